-- tries: a 10 MB statement: a 10 MB string literal, run and measured
-- expect: harmless
-- backends: postgres, duckdb
-- message: --decide commit
SELECT length('{{repeat 10485760:x}}') AS n
