-- One process uses a store at a time: a second process (another sqlite3
-- shell, started from here while this one holds the default store) gets a
-- clear "store is in use by another process" error, keeps its native
-- tables, and harms nothing; this process goes on as before.
.mode list
.headers off
CREATE VIRTUAL TABLE temp.t USING mvcc(id INTEGER PRIMARY KEY, v);
INSERT INTO t VALUES (1, 'mine');
SELECT writefile('second.sql', '.mode list
.headers off
CREATE VIRTUAL TABLE temp.u USING mvcc;
SELECT mvcc_attach(''test.db-mvcc'');
CREATE TABLE IF NOT EXISTS nat(x);
INSERT INTO nat VALUES (42);
SELECT * FROM nat;
') > 0;
.system sqlite3 -batch -cmd '.load ./build/mvcc' test.db < second.sql > second.out 2>&1; true
SELECT CAST(readfile('second.out') AS TEXT);
SELECT * FROM t;
INSERT INTO t VALUES (2, 'still mine');
SELECT * FROM t;
SELECT * FROM nat;
