-- tries: a CTE deleting every row, under the agent's own --decide commit: policy sees the DELETE without WHERE
-- expect: neutralised
-- backends: postgres
-- message: has no WHERE clause
-- measured: orders.deleted = 90
WITH gone AS (DELETE FROM orders RETURNING *) SELECT count(*) FROM gone
