-- tries: DETACH the database goex staged in
-- expect: refused
-- backends: duckdb
-- message: reads or writes outside the database
DETACH shop
