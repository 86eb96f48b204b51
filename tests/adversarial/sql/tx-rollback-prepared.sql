-- tries: ROLLBACK PREPARED, in lower case after a read
-- expect: refused
-- backends: postgres
-- message: goex owns the transaction
select 1; rollback prepared 'someone-elses'
