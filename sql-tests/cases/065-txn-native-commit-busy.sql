-- A transaction over a native table and an mvcc table is all or nothing
-- also when SQLite's own commit fails after the mvcc side was validated:
-- here the native file is locked by another connection's read (rollback
-- journal), so COMMIT fails with "database is locked" and SQLite keeps the
-- transaction open.  ROLLBACK then undoes both sides; a retried COMMIT
-- commits both, also with writes made after the failed COMMIT.  The same
-- for an autocommit statement whose trigger writes the mvcc table.
.mode list
.headers off
CREATE TABLE nat(x);
CREATE TABLE log(x);
CREATE VIRTUAL TABLE temp.t USING mvcc(id INTEGER PRIMARY KEY, v);
CREATE TEMP TRIGGER log_to_t AFTER INSERT ON log BEGIN INSERT INTO t VALUES (new.x, 'from trigger'); END;
.connection 1
.open test.db
.load ./build/mvcc
.mode list
.headers off
BEGIN;
SELECT count(*) FROM nat;
.connection 0
BEGIN;
INSERT INTO nat VALUES (1);
INSERT INTO t VALUES (1, 'x');
COMMIT;
ROLLBACK;
SELECT 'after rollback', count(*) FROM nat;
SELECT 'after rollback', count(*) FROM t;
INSERT INTO log VALUES (5);
SELECT 'after trigger', count(*) FROM log;
SELECT 'after trigger', count(*) FROM t;
BEGIN;
INSERT INTO nat VALUES (2);
INSERT INTO t VALUES (2, 'y');
COMMIT;
INSERT INTO t VALUES (3, 'after the failed commit');
.connection 1
COMMIT;
.connection 0
COMMIT;
SELECT * FROM nat;
SELECT * FROM t;
.connection 1
SELECT * FROM t;
