CREATE INDEX email_idx ON app_user (email);
