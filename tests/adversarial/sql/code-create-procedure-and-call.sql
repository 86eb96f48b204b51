-- tries: CREATE PROCEDURE with a COMMIT inside, then CALL it
-- expect: refused
-- backends: postgres
-- message: defines server-side code
CREATE PROCEDURE sneak() LANGUAGE plpgsql AS $$ BEGIN COMMIT; END $$;
CALL sneak();
