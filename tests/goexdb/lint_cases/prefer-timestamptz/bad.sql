CREATE TABLE events (at timestamp without time zone);
