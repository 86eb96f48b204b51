-- tries: COMMIT AND CHAIN after a $x$ body holding a quote, COMMIT and a comment start
-- expect: refused
-- backends: postgres
-- message: goex owns the transaction
UPDATE orders SET status = $x$'; COMMIT; --$x$ WHERE id = 1; COMMIT AND CHAIN; DROP TABLE customers
