-- A value (non-key) column may use any collation the connection has, as in
-- CREATE TABLE: here uint, which the sqlite3 shell registers ('a10' sorts
-- after 'a9').  SQLite itself does those comparisons, so nothing about the
-- store depends on it.
.mode list
.headers off
SELECT 'a10' > 'a9' COLLATE uint;
CREATE VIRTUAL TABLE temp.t USING mvcc(id INTEGER PRIMARY KEY, name TEXT COLLATE uint);
INSERT INTO t VALUES (1, 'a10'), (2, 'a9'), (3, 'a100');
SELECT group_concat(name) FROM (SELECT name FROM t ORDER BY name);
SELECT group_concat(id) FROM t WHERE name > 'a9';
