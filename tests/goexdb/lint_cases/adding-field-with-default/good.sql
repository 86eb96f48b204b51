-- constant and stable defaults do not rewrite since PostgreSQL 11
ALTER TABLE orders ADD COLUMN flag boolean DEFAULT false;
ALTER TABLE orders ADD COLUMN created timestamptz DEFAULT now();
ALTER TABLE orders ADD COLUMN tags text[] DEFAULT '{}'::text[];
