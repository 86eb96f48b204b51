-- tries: EXPLAIN (U&"\0061nalyze" true): ANALYZE spelled with a unicode escape
-- expect: refused
-- backends: postgres
-- message: unicode-escaped identifier
EXPLAIN (U&"\0061nalyze" true) DELETE FROM orders
