-- tries: a COMMIT inside a nested block comment, which PostgreSQL and goex both nest
-- expect: harmless
-- backends: postgres
-- message: --decide commit
SELECT 1 /* outer /* inner */ ; COMMIT; */
