-- Hot keys: a retried transaction (the next one on a connection whose last
-- one failed with "restart transaction"), and one that asked with
-- mvcc_lock_reads(1), lock the rows they read; first attempts and
-- autocommit SELECTs do not.  Two connections of the shell: a lock shows
-- in mvcc_locks, and in the other connection's UPDATE of the row, which
-- waits out its busy timeout (100 ms) and fails.
.mode list
.headers off
CREATE VIRTUAL TABLE temp.t USING mvcc(id INTEGER PRIMARY KEY, n INTEGER);
INSERT INTO t VALUES (1, 0), (2, 0);
.connection 1
.open test.db
.load ./build/mvcc
.mode list
.headers off
PRAGMA busy_timeout = 100;
.connection 0
-- A first attempt reads without a lock: the other connection's UPDATE
-- commits under it, and its own UPDATE of the row it read fails.
SELECT mvcc_lock_reads();
BEGIN;
SELECT n FROM t WHERE id = 1;
SELECT count(*) FROM mvcc_locks;
.connection 1
UPDATE t SET n = n + 1 WHERE id = 1;
.connection 0
UPDATE t SET n = 10 WHERE id = 1;
ROLLBACK;
-- So the next transaction is a retry.  An autocommit SELECT in between
-- neither locks nor uses that up.
SELECT mvcc_lock_reads();
SELECT n FROM t WHERE id = 2;
SELECT count(*) FROM mvcc_locks;
SELECT mvcc_lock_reads();
-- The retry locks the row at its SELECT: the other UPDATE times out, and
-- the retry commits its read-modify-write.
BEGIN;
SELECT n FROM t WHERE id = 1;
SELECT mvcc_lock_reads(), lock_reads, locks FROM mvcc_txns WHERE status = 'pending';
.connection 1
UPDATE t SET n = n + 1 WHERE id = 1;
.connection 0
UPDATE t SET n = n + 1 WHERE id = 1;
COMMIT;
SELECT group_concat(id || ':' || n) FROM t;
-- It used up the retry.
SELECT mvcc_lock_reads();
-- Asking: inside BEGIN before the first read of an mvcc table, or before
-- BEGIN; 0 takes it back; too late once the transaction has read.  A range
-- scan locks each row it returns, and a read of an absent key locks that
-- key.
SELECT mvcc_lock_reads(1);
SELECT mvcc_lock_reads(0);
BEGIN;
SELECT mvcc_lock_reads(1);
SELECT count(*) FROM t WHERE id BETWEEN 1 AND 2;
SELECT count(*) FROM t WHERE id = 3;
SELECT count(*), sum(waiting) FROM mvcc_locks;
SELECT mvcc_lock_reads(0);
COMMIT;
SELECT count(*) FROM mvcc_locks;
SELECT mvcc_lock_reads();
-- The other connection failed (lock timeout), so its next transaction is a
-- retry; an autocommit UPDATE is one, and it uses it up.
.connection 1
SELECT mvcc_lock_reads();
UPDATE t SET n = n + 1 WHERE id = 2;
SELECT mvcc_lock_reads();
SELECT value FROM mvcc_stats WHERE name = 'txns_lock_reads';
-- Bad arguments.
.connection 0
SELECT mvcc_lock_reads(2);
SELECT mvcc_lock_reads('1');
SELECT mvcc_lock_reads(NULL);
SELECT mvcc_lock_reads(1, 2);
SELECT group_concat(id || ':' || n) FROM t;
