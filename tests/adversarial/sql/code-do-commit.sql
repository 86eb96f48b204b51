-- tries: a DO block that deletes and COMMITs
-- expect: refused
-- backends: postgres
-- message: does not recognise this kind of statement
DO $$ BEGIN DELETE FROM orders WHERE id = 1; COMMIT; END $$
