-- tries: SET LOCAL ROLE, scoped to the transaction
-- expect: refused
-- backends: postgres
-- message: changes the session
SET LOCAL ROLE pg_write_server_files
