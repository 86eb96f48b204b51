ALTER TABLE email ADD CONSTRAINT fk_user FOREIGN KEY (user_id) REFERENCES app_user (id);
