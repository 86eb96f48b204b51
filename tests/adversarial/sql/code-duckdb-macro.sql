-- tries: a DuckDB macro, code goex cannot inspect
-- expect: refused
-- backends: duckdb
-- message: defines server-side code
CREATE MACRO evil(a) AS a
