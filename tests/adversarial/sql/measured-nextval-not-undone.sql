-- tries: nextval: a PostgreSQL sequence does not roll back; goex must measure the advance and show it as not undone
-- expect: neutralised
-- backends: postgres
-- message: --decide rollback
-- decide: rollback
-- survives: sequences
SELECT nextval('adv_seq')
