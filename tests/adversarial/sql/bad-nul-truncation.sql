-- tries: a NUL in a comment: libpq would end the statement there and drop the WHERE
-- expect: refused
-- backends: postgres, duckdb
-- message: NUL byte
-- exit: 1
UPDATE orders SET status = 'lost' --{{byte 00}}
WHERE id = 1
