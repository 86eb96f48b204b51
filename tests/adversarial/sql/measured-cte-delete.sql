-- tries: a data-modifying CTE: the DELETE is staged and measured, then rolled back
-- expect: neutralised
-- backends: postgres
-- message: --decide rollback
-- decide: rollback
-- measured: orders.deleted = 3
WITH gone AS (DELETE FROM orders WHERE id <= 3 RETURNING id) SELECT count(*) FROM gone
