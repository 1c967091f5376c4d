-- DDL inside a transaction that is rolled back must not leave the
-- connection with a declaration it can neither use nor drop: whatever
-- ROLLBACK does to the store (the README says DDL commits on its own),
-- DROP TABLE IF EXISTS clears the name and CREATE makes a fresh table.
.mode list
.headers off
CREATE VIRTUAL TABLE temp.t USING mvcc(id INTEGER PRIMARY KEY, v);
INSERT INTO t VALUES (1, 'a');
BEGIN;
DROP TABLE t;
ROLLBACK;
DROP TABLE IF EXISTS t;
CREATE VIRTUAL TABLE temp.t USING mvcc(id INTEGER PRIMARY KEY, v);
INSERT INTO t VALUES (2, 'b');
SELECT * FROM t;
CREATE VIRTUAL TABLE temp.u USING mvcc(id INTEGER PRIMARY KEY, v);
BEGIN;
ALTER TABLE u RENAME TO w;
ROLLBACK;
DROP TABLE IF EXISTS u;
DROP TABLE IF EXISTS w;
CREATE VIRTUAL TABLE temp.u USING mvcc(id INTEGER PRIMARY KEY, v);
INSERT INTO u VALUES (3, 'c');
SELECT * FROM u;
SELECT name FROM sqlite_temp_master ORDER BY name;
