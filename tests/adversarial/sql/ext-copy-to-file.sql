-- tries: COPY a table to a file
-- expect: refused
-- backends: postgres, duckdb
-- message: reads or writes outside the database
COPY (SELECT * FROM customers) TO '{{tmp}}/customers.csv'
