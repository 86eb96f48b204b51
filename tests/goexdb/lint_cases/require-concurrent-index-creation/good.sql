CREATE INDEX CONCURRENTLY email_idx ON app_user (email);
-- a table created in the same migration is new and empty
CREATE TABLE fresh (id bigint, email text);
CREATE INDEX fresh_email_idx ON fresh (email);
