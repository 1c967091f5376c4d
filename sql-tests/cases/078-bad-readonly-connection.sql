-- A connection opened read-only (sqlite3 -readonly, SQLITE_OPEN_READONLY)
-- reads mvcc tables but writes none and creates none: each write is
-- "attempt to write a readonly database", and the data is intact.
.mode list
.headers off
CREATE VIRTUAL TABLE temp.t USING mvcc(id INTEGER PRIMARY KEY, v);
INSERT INTO t VALUES (1, 'kept');
.open --readonly test.db
.load ./build/mvcc
SELECT * FROM t;
INSERT INTO t VALUES (2, 'no');
UPDATE t SET v = 'no' WHERE id = 1;
DELETE FROM t;
BEGIN;
SELECT count(*) FROM t;
INSERT INTO t VALUES (3, 'no');
COMMIT;
CREATE VIRTUAL TABLE temp.u USING mvcc(id INTEGER PRIMARY KEY, v);
.open test.db
.load ./build/mvcc
SELECT * FROM t;
SELECT name FROM sqlite_temp_master ORDER BY name;
