-- tries: a script of comments and semicolons only
-- expect: refused
-- backends: postgres, duckdb
-- message: has no statements
-- exit: 1
-- nothing
;
/* still nothing */ ;
