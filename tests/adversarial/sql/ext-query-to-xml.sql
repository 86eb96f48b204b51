-- tries: query_to_xml, which runs the query in its string argument
-- expect: refused
-- backends: postgres
-- message: query_to_xml
SELECT query_to_xml('DELETE FROM orders', true, true, '')
