CREATE TABLE counters (hits smallint);
