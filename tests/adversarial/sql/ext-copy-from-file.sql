-- tries: COPY a server file into a table
-- expect: refused
-- backends: postgres, duckdb
-- message: reads or writes outside the database
COPY orders FROM '/etc/passwd'
