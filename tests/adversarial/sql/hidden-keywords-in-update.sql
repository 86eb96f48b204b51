-- tries: every transaction keyword inside the value an UPDATE writes (rolled back)
-- expect: harmless
-- backends: postgres, duckdb
-- message: --decide rollback
-- decide: rollback
-- measured: orders.updated = 1
UPDATE orders SET status = 'ROLLBACK; END; ABORT; COMMIT; SET ROLE x; RESET ALL' WHERE id = 1
