-- tries: a NUL byte inside a string literal
-- expect: refused
-- backends: postgres, duckdb
-- message: NUL byte
-- exit: 1
SELECT 'a{{byte 00}}b'
