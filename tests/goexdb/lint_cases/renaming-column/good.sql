ALTER TABLE app_user ADD COLUMN email_address text;
