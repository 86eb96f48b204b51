CREATE TABLE events (at timestamptz, day date);
