ALTER TABLE app_user DROP COLUMN IF EXISTS legacy_flag;
