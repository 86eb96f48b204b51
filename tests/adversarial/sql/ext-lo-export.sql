-- tries: lo_export of a new large object to a file
-- expect: refused
-- backends: postgres
-- message: lo_export
SELECT lo_export(lo_from_bytea(0, 'owned'), '{{tmp}}/lo.out')
