ALTER TABLE distributors ADD CONSTRAINT dist_id_key UNIQUE (dist_id);
