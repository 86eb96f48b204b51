-- the name is in a string, not a statement: SELECT 'DROP DATABASE shop'
SELECT 'DROP DATABASE shop' AS reminder;
