-- tries: CALL of a procedure whose body COMMITs
-- expect: refused
-- backends: postgres
-- message: does not recognise this kind of statement
CALL finish_early()
