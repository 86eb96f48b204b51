-- tries: COMMIT and ROLLBACK inside comments only
-- expect: harmless
-- backends: postgres, duckdb
-- message: --decide commit
SELECT 1 /* COMMIT; */ -- ; ROLLBACK
