-- tries: LISTEN, to keep a channel open past the action
-- expect: refused
-- backends: postgres
-- message: changes the session
LISTEN agents
