-- Introspection tables: counters per store, live transactions and locks.
.mode list
.headers off
CREATE VIRTUAL TABLE temp.t USING mvcc(id INTEGER PRIMARY KEY, n);
INSERT INTO t VALUES (1, 1);
SELECT name FROM mvcc_stats ORDER BY rowid;
SELECT value > 0 FROM mvcc_stats WHERE name = 'commits';
BEGIN;
UPDATE t SET n = 2 WHERE id = 1;
SELECT count(*), sum(locks) FROM mvcc_txns WHERE status = 'pending';
SELECT hex(key) LIKE '01%', waiting FROM mvcc_locks;
COMMIT;
SELECT count(*) FROM mvcc_locks;
