CREATE TABLE codes (code text CHECK (length(code) <= 10));
