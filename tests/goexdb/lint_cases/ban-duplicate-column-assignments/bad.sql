UPDATE t SET a = 1, a = 2;
