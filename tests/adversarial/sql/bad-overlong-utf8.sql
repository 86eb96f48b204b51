-- tries: an overlong UTF-8 encoding of '/'
-- expect: refused
-- backends: postgres, duckdb
-- message: utf-8
-- exit: 2
SELECT '{{byte c0}}{{byte af}}etc{{byte c0}}{{byte af}}passwd'
