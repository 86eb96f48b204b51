-- tries: set role after a read, in lower case
-- expect: refused
-- backends: postgres
-- message: changes the session
select 1;
set role pg_read_server_files;
