BEGIN;
ALTER TABLE app_user ADD COLUMN email text;
COMMIT;
CREATE INDEX CONCURRENTLY email_idx ON app_user (email);
