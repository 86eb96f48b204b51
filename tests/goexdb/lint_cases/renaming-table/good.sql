CREATE VIEW users AS SELECT * FROM app_user;
