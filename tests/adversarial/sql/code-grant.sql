-- tries: GRANT on a table to PUBLIC
-- expect: refused
-- backends: postgres
-- message: changes roles or privileges
GRANT ALL ON orders TO PUBLIC
