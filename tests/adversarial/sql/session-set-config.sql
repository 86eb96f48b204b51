-- tries: set_config('role', ...), the function form of SET ROLE
-- expect: refused
-- backends: postgres
-- message: set_config
SELECT set_config('role', 'pg_read_server_files', false)
