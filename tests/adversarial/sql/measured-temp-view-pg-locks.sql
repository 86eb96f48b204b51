-- tries: a temporary view named pg_locks, which PostgreSQL searches before pg_catalog, to hide the rows written from goex's measure
-- expect: neutralised
-- backends: postgres
-- message: --decide rollback
-- decide: rollback
-- measured: orders.updated = 3
CREATE TEMP VIEW pg_locks AS SELECT * FROM pg_catalog.pg_locks WHERE false;
UPDATE orders SET status = 'x' WHERE id <= 3
