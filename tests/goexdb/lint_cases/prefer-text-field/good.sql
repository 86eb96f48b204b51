CREATE TABLE people (name text CHECK (length(name) <= 100), note varchar);
