-- tries: lo_import of a server file into a large object
-- expect: refused
-- backends: postgres
-- message: lo_import
SELECT lo_import('/etc/passwd')
