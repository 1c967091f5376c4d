-- One process writes a store at a time: a second process (another sqlite3
-- shell, started from here while this one writes the default store) opens
-- it as a reader.  It sees the tables and their rows, keeps its native
-- tables, and every write and DDL on the store fails with "attempt to write
-- a readonly database" naming the writing process (its pid, shown here as
-- PID); nothing it tried reaches the store, and this process goes on.
.mode list
.headers off
CREATE VIRTUAL TABLE temp.t USING mvcc(id INTEGER PRIMARY KEY, v);
INSERT INTO t VALUES (1, 'mine');
SELECT writefile('second.sql', '.mode list
.headers off
SELECT * FROM t;
INSERT INTO t VALUES (9, ''theirs'');
UPDATE t SET v = ''theirs'';
DELETE FROM t;
CREATE VIRTUAL TABLE temp.u USING mvcc;
CREATE VIRTUAL TABLE temp.t2 USING mvcc(id INTEGER PRIMARY KEY, v);
SELECT mvcc_attach(''test.db-mvcc'');
CREATE TABLE IF NOT EXISTS nat(x);
INSERT INTO nat VALUES (42);
SELECT * FROM nat;
SELECT * FROM t;
') > 0;
.system sqlite3 -batch -cmd '.load ./build/mvcc' test.db < second.sql 2>&1 | sed 's/process [0-9]*/process PID/' > second.out; true
SELECT CAST(readfile('second.out') AS TEXT);
SELECT * FROM t;
INSERT INTO t VALUES (2, 'still mine');
SELECT * FROM t;
SELECT * FROM nat;
SELECT name FROM sqlite_temp_master WHERE name LIKE 'u%' ORDER BY name;
