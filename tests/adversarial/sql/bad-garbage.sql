-- tries: not SQL at all
-- expect: refused
-- backends: postgres, duckdb
-- message: could not be parsed
-- exit: 1
DELETE FROM WHERE AND OR ;;; ))
