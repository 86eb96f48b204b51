-- tries: an empty temporary table named pg_class, searched before pg_catalog, to blind goex's measure and catalog reads
-- expect: neutralised
-- backends: postgres
-- message: --decide rollback
-- decide: rollback
-- measured: orders.updated = 3
CREATE TEMP TABLE pg_class AS SELECT * FROM pg_catalog.pg_class WHERE false;
UPDATE orders SET status = 'x' WHERE id <= 3
