-- tries: CREATE EXTENSION dblink, to reach another database
-- expect: refused
-- backends: postgres
-- message: does not recognise this kind of statement
CREATE EXTENSION IF NOT EXISTS dblink
