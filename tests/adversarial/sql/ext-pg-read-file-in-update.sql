-- tries: pg_catalog.pg_read_file in a subquery of an UPDATE
-- expect: refused
-- backends: postgres
-- message: pg_read_file
UPDATE orders SET status = (SELECT pg_catalog.pg_read_file('/etc/hostname')) WHERE id = 1
