CREATE TABLE items (id bigserial PRIMARY KEY);
