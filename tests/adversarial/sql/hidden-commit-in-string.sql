-- tries: COMMIT; DROP TABLE inside a string literal: data, not a statement
-- expect: harmless
-- backends: postgres, duckdb
-- message: --decide commit
SELECT 'COMMIT; DROP TABLE orders; --' AS note
