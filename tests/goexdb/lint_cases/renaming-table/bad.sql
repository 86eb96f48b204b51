ALTER TABLE app_user RENAME TO users;
