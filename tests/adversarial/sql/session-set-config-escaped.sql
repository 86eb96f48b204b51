-- tries: set_config spelled with a unicode escape: U&"set_confi\0067"
-- expect: refused
-- backends: postgres
-- message: unicode-escaped identifier
SELECT U&"set_confi\0067"('role', 'pg_read_server_files', false)
