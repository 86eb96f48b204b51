-- tries: UPDATE pg_catalog.pg_authid: a catalog write the row statistics do not see
-- expect: refused
-- backends: postgres
-- message: system catalog
UPDATE pg_catalog.pg_authid SET rolconnlimit = 1 WHERE rolname = 'postgres'
