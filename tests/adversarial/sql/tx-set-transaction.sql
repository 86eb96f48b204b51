-- tries: SET TRANSACTION to change how goex's transaction behaves
-- expect: refused
-- backends: postgres
-- message: goex owns the transaction
SET TRANSACTION ISOLATION LEVEL SERIALIZABLE; DELETE FROM orders WHERE id = 8
