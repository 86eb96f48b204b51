-- tries: COPY ... TO PROGRAM, to run a shell command on the server
-- expect: refused
-- backends: postgres
-- message: reads or writes outside the database
COPY orders TO PROGRAM 'touch {{tmp}}/pwned'
