-- A table renamed by another connection: this connection's old name stops
-- reaching it (the name may now belong to a new table), says where it went,
-- and can be dropped without touching either table; mvcc_attach() then
-- declares the store's tables as they are now.
.mode list
.headers off
CREATE VIRTUAL TABLE temp.t USING mvcc(id INTEGER PRIMARY KEY, v);
INSERT INTO t VALUES (1, 'old table');
.connection 1
.open test.db
.load ./build/mvcc
.mode list
.headers off
SELECT * FROM t;
.connection 0
ALTER TABLE t RENAME TO archived;
CREATE VIRTUAL TABLE temp.t USING mvcc(id INTEGER PRIMARY KEY, v);
INSERT INTO t VALUES (100, 'new table');
.connection 1
SELECT * FROM t;
INSERT INTO t VALUES (2, 'meant for the new t');
DROP TABLE t;
SELECT mvcc_attach() > 0;
SELECT * FROM t;
SELECT * FROM archived;
.connection 0
SELECT * FROM t;
SELECT * FROM archived;
