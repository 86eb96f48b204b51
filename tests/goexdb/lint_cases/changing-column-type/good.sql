ALTER TABLE orders ADD COLUMN id_new bigint;
