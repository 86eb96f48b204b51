-- tries: EnD TrAnSaCtIoN after a delete, with tabs and newlines
-- expect: refused
-- backends: postgres, duckdb
-- message: goex owns the transaction
DELETE FROM orders WHERE id = 5;
	EnD
	TrAnSaCtIoN;
