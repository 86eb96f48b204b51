-- tries: CALL of a pragma table function
-- expect: refused
-- backends: duckdb
-- message: does not recognise this kind of statement
CALL pragma_table_info('orders')
