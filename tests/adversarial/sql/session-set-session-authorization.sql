-- tries: SET SESSION AUTHORIZATION, to act as another role
-- expect: refused
-- backends: postgres
-- message: changes the session
SET SESSION AUTHORIZATION DEFAULT;
DELETE FROM orders WHERE id = 1;
