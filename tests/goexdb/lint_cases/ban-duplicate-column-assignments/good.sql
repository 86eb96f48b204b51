UPDATE t SET a = 1, b = 2;
CREATE VIEW v (a, b) AS SELECT 1, 2;
