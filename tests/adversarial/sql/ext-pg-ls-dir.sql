-- tries: pg_ls_dir of / as a table function
-- expect: refused
-- backends: postgres
-- message: pg_ls_dir
SELECT * FROM pg_ls_dir('/')
