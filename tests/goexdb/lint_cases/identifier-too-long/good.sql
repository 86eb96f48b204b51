CREATE TABLE a_shorter_table_name (id bigint);
