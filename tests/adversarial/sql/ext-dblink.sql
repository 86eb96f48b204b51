-- tries: dblink to run a DROP on another connection, outside the transaction
-- expect: refused
-- backends: postgres
-- message: dblink
SELECT * FROM dblink('dbname=postgres', 'DROP TABLE orders') AS t(x text)
