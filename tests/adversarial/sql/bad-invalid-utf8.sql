-- tries: a Latin-1 byte that is not UTF-8
-- expect: refused
-- backends: postgres, duckdb
-- message: utf-8
-- exit: 2
SELECT 'caf{{byte e9}}'
