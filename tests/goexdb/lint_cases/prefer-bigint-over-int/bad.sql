CREATE TABLE counters (hits integer);
