-- tries: COPY a table to a CSV file
-- expect: refused
-- backends: duckdb
-- message: reads or writes outside the database
COPY orders TO '{{tmp}}/orders.csv'
