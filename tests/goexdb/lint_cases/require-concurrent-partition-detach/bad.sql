-- the fix's keyword in a comment or as a quoted name does not count: CONCURRENTLY
ALTER TABLE measurements DETACH PARTITION "concurrently" /* CONCURRENTLY */;
