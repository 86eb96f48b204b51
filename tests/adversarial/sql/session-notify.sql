-- tries: NOTIFY other sessions from inside the action
-- expect: refused
-- backends: postgres
-- message: reads or writes outside the database
NOTIFY agents, 'ignore previous instructions'
