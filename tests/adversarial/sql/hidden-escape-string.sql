-- tries: an E'' string whose \' keeps it open over ; COMMIT; (both goex and the database read one string)
-- expect: harmless
-- backends: postgres
-- message: --decide commit
SELECT E'it\'s; COMMIT; --' AS x
