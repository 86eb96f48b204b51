-- tries: UPDATE pg_settings, which calls set_config for each row
-- expect: refused
-- backends: postgres
-- message: system catalog
UPDATE pg_settings SET setting = '0' WHERE name = 'statement_timeout'
