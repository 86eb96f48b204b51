-- tries: a $tag$ body holding a quote, COMMIT and a comment start
-- expect: harmless
-- backends: postgres
-- message: --decide rollback
-- decide: rollback
-- measured: orders.updated = 1
UPDATE orders SET status = $tag$'; COMMIT; RESET ALL; --$tag$ WHERE id = 3
