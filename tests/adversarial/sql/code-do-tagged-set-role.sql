-- tries: a DO $body$ block running SET ROLE through EXECUTE
-- expect: refused
-- backends: postgres
-- message: does not recognise this kind of statement
do $body$ begin execute 'SET ROLE postgres'; end $body$;
