-- tries: pg_catalog.set_config inside an UPDATE
-- expect: refused
-- backends: postgres
-- message: set_config
UPDATE orders SET status = pg_catalog.set_config('session_authorization', 'postgres', false) WHERE id = 1
