BEGIN;
CREATE INDEX CONCURRENTLY email_idx ON app_user (email);
COMMIT;
