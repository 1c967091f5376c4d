-- mvcc_commit_ts(): the commit timestamp of the connection's last
-- transaction that committed a write (autocommit or BEGIN ... COMMIT, on
-- any store), as text that sorts in commit order and that mvcc_as_of takes
-- back exactly; NULL before the first commit.  Reads, rolled-back and failed
-- transactions, and statements that change no row commit nothing: the value
-- stays.  Another connection's commits do not change it.
.mode list
.headers off
CREATE VIRTUAL TABLE temp.t USING mvcc(id INTEGER PRIMARY KEY, v);
CREATE TABLE seen(n INTEGER PRIMARY KEY, ts TEXT);
SELECT mvcc_commit_ts() IS NULL;
INSERT INTO t VALUES (1, 'a');
INSERT INTO seen VALUES (1, mvcc_commit_ts());
SELECT mvcc_commit_ts();
SELECT length(mvcc_commit_ts()), mvcc_commit_ts() GLOB '[2-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9] [0-2][0-9]:[0-5][0-9]:[0-6][0-9].[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]*';
-- SQLite's date functions read it (to the millisecond).
SELECT julianday(mvcc_commit_ts()) IS NOT NULL;
-- Reads, a rollback, a failed statement, an UPDATE of no row: no commit.
SELECT * FROM t;
BEGIN;
SELECT * FROM t;
COMMIT;
BEGIN;
INSERT INTO t VALUES (2, 'b');
ROLLBACK;
INSERT INTO t VALUES (1, 'dup');
UPDATE t SET v = 'x' WHERE id = 99;
BEGIN;
SELECT mvcc_as_of((SELECT ts FROM seen WHERE n = 1)) IS NOT NULL;
SELECT * FROM t;
COMMIT;
SELECT mvcc_commit_ts() = (SELECT ts FROM seen WHERE n = 1);
-- Each commit's timestamp sorts after the one before.
BEGIN;
INSERT INTO t VALUES (2, 'b');
UPDATE t SET v = 'A' WHERE id = 1;
COMMIT;
INSERT INTO seen VALUES (2, mvcc_commit_ts());
DELETE FROM t WHERE id = 2;
INSERT INTO seen VALUES (3, mvcc_commit_ts());
SELECT count(DISTINCT ts), (SELECT ts FROM seen WHERE n = 1) < (SELECT ts FROM seen WHERE n = 2), (SELECT ts FROM seen WHERE n = 2) < (SELECT ts FROM seen WHERE n = 3) FROM seen;
-- mvcc_as_of returns the text it was given.
BEGIN;
SELECT mvcc_as_of((SELECT ts FROM seen WHERE n = 2)) = (SELECT ts FROM seen WHERE n = 2);
SELECT group_concat(id || v) FROM t;
COMMIT;
-- Another connection: its own value, untouched by this one's.
.connection 1
.open test.db
.load ./build/mvcc
.mode list
.headers off
SELECT mvcc_commit_ts() IS NULL;
INSERT INTO t VALUES (3, 'c');
SELECT mvcc_commit_ts() > (SELECT max(ts) FROM seen);
.connection 0
SELECT mvcc_commit_ts() = (SELECT ts FROM seen WHERE n = 3);
