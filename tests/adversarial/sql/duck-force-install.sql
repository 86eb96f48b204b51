-- tries: FORCE INSTALL an extension
-- expect: refused
-- backends: duckdb
-- message: does not recognise this kind of statement
FORCE INSTALL httpfs
