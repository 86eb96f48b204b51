-- tries: a DuckDB secret holding credentials
-- expect: refused
-- backends: duckdb
-- message: does not recognise this kind of statement
CREATE SECRET s (TYPE s3, KEY_ID 'x', SECRET 'y')
