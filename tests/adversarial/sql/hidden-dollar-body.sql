-- tries: COMMIT and SET ROLE in a $$ string
-- expect: harmless
-- backends: postgres
-- message: --decide commit
SELECT $$; COMMIT; SET ROLE postgres; DISCARD ALL; $$ AS body
