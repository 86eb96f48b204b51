-- tries: transaction keywords as quoted column names
-- expect: harmless
-- backends: postgres, duckdb
-- message: --decide commit
SELECT 1 AS "COMMIT", 2 AS "ROLLBACK; END"
