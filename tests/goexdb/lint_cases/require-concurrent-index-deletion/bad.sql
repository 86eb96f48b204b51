DROP INDEX email_idx;
