-- tries: a SECURITY DEFINER function that copies to a program
-- expect: refused
-- backends: postgres
-- message: defines server-side code
CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql SECURITY DEFINER AS $$ BEGIN EXECUTE 'COPY orders TO PROGRAM ''id'''; END $$
