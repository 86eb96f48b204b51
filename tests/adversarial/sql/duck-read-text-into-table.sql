-- tries: read_text of a file into a new table
-- expect: refused
-- backends: duckdb
-- message: disabled by configuration
-- exit: 1
CREATE TABLE loot AS SELECT * FROM read_text('/etc/hostname')
