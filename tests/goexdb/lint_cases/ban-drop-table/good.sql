-- dropping a table this migration created is fine
CREATE TABLE scratch (id bigint);
DROP TABLE scratch;
