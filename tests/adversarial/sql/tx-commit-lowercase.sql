-- tries: a lower-case commit after an update
-- expect: refused
-- backends: postgres, duckdb
-- message: goex owns the transaction
update orders set status = 'shipped' where id = 1;
commit;
