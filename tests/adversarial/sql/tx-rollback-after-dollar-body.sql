-- tries: a real ROLLBACK after a $$ body holding a fake COMMIT
-- expect: refused
-- backends: postgres
-- message: goex owns the transaction
UPDATE orders SET status = $$; COMMIT; $$ WHERE id = 1; ROLLBACK; DROP TABLE customers
