CREATE TABLE codes (code char(10));
