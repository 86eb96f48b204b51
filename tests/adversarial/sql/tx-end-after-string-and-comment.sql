-- tries: END after a string holding ;COMMIT; and a comment holding ;
-- expect: refused
-- backends: postgres, duckdb
-- message: goex owns the transaction
UPDATE orders SET status = ';COMMIT;' WHERE id = 1; -- ; 
END; DROP TABLE customers
