ALTER TABLE distributors ADD CONSTRAINT dist_id_key UNIQUE USING INDEX dist_id_idx;
