-- tries: call of a procedure that changes the session authorization
-- expect: refused
-- backends: postgres
-- message: does not recognise this kind of statement
select 1; call become_superuser();
