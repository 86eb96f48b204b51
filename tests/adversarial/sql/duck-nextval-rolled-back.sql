-- tries: nextval on a DuckDB sequence: rolled back with the transaction
-- expect: harmless
-- backends: duckdb
-- message: --decide rollback
-- decide: rollback
SELECT nextval('adv_seq'), nextval('adv_seq')
