-- tries: pg_read_file spelled U&"pg_read_fil\0065", invisible to a name check
-- expect: refused
-- backends: postgres
-- message: unicode-escaped identifier
SELECT U&"pg_read_fil\0065"('/etc/passwd')
