-- tries: UPDATE EXTENSIONS, which sqlglot reads as an UPDATE
-- expect: refused
-- backends: duckdb
-- message: does not agree with goex's classification
UPDATE EXTENSIONS
