-- tries: RESET ROLE behind a comment
-- expect: refused
-- backends: postgres
-- message: changes the session
-- harmless, honestly
ReSeT rOlE
