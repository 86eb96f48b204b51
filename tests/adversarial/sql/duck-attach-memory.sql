-- tries: ATTACH an in-memory database and write to it
-- expect: refused
-- backends: duckdb
-- message: reads or writes outside the database
ATTACH ':memory:' AS m; CREATE TABLE m.t AS SELECT 1 AS a
