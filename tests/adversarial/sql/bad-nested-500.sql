-- tries: 500 nested parentheses, deeper than the parser's recursion (DuckDB: PostgreSQL's own parser reads them)
-- expect: refused
-- backends: duckdb
-- message: nested too deeply
-- exit: 1
SELECT {{repeat 500:(}}1{{repeat 500:)}}
