-- tries: setval on a sequence: sequences do not roll back
-- expect: refused
-- backends: postgres
-- message: setval
SELECT setval('adv_seq', 1000)
