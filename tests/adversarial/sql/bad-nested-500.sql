-- tries: 500 nested parentheses, deeper than the parser's recursion
-- expect: refused
-- backends: postgres, duckdb
-- message: nested too deeply
-- exit: 1
SELECT {{repeat 500:(}}1{{repeat 500:)}}
