-- tries: explain (costs off, analyse true): the British spelling in an option list
-- expect: refused
-- backends: postgres
-- message: does not recognise this kind of statement
explain (costs off, analyse true) delete from orders
