-- tries: CREATE ROLE with SUPERUSER
-- expect: refused
-- backends: postgres
-- message: does not recognise this kind of statement
CREATE ROLE agent_admin SUPERUSER LOGIN
