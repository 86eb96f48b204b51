-- tries: CREATE EXTENSION dblink, to reach another database
-- expect: refused
-- backends: postgres
-- message: defines server-side code
CREATE EXTENSION IF NOT EXISTS dblink
