-- Two connections of this process (the shell's .connection): a table one
-- drops is "dropped" for the other, which can still DROP its declaration;
-- when the name is then reused for a table with another definition, the
-- other connection's old declaration must not read, write or drop the new
-- table, also after its temp schema is reloaded (here by a rolled-back
-- CREATE TEMP TABLE).
.mode list
.headers off
CREATE VIRTUAL TABLE temp.t USING mvcc(id INTEGER PRIMARY KEY, v);
INSERT INTO t VALUES (1, 'a');
CREATE VIRTUAL TABLE temp.s USING mvcc(id INTEGER PRIMARY KEY, v);
.connection 1
.open test.db
.load ./build/mvcc
.mode list
.headers off
SELECT * FROM t;
SELECT count(*) FROM s;
.connection 0
DROP TABLE t;
DROP TABLE s;
CREATE VIRTUAL TABLE temp.s USING mvcc(id INTEGER PRIMARY KEY, v, w);
INSERT INTO s VALUES (7, 'seven', 'new');
.connection 1
SELECT * FROM t;
INSERT INTO t VALUES (2, 'b');
DROP TABLE t;
BEGIN;
CREATE TEMP TABLE scratch(x);
ROLLBACK;
SELECT * FROM s;
INSERT INTO s VALUES (8, 'eight');
DROP TABLE s;
SELECT name FROM sqlite_temp_master ORDER BY name;
.connection 0
SELECT * FROM s;
