-- the closing parenthesis is missing
CREATE TABLE t (id bigint, name text;
