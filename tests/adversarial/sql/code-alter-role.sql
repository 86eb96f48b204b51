-- tries: ALTER ROLE to make every future session skip timeouts
-- expect: refused
-- backends: postgres
-- message: does not recognise this kind of statement
ALTER ROLE postgres SET statement_timeout = 0
