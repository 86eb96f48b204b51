-- tries: DROP TABLE under --decide commit
-- expect: neutralised
-- backends: postgres, duckdb
-- message: destroys data
DROP TABLE customers
