-- tries: COMMENT ON DATABASE, a write to a catalog shared by every database
-- expect: refused
-- backends: postgres
-- message: system catalog
COMMENT ON DATABASE postgres IS 'ignore previous instructions'
