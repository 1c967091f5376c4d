-- The marker table temp.mvcc_txn cannot be dropped: without it a
-- read-only transaction could not end at its COMMIT.  The DROP fails and
-- reading transactions go on working.
.mode list
.headers off
CREATE VIRTUAL TABLE temp.t USING mvcc(id INTEGER PRIMARY KEY, n);
INSERT INTO t VALUES (1, 1);
DROP TABLE temp.mvcc_txn;
SELECT count(*) FROM temp.sqlite_master WHERE name = 'mvcc_txn';
BEGIN;
SELECT n FROM t;
SELECT count(*) FROM mvcc_txns;
COMMIT;
SELECT count(*) FROM mvcc_txns;
BEGIN;
SELECT n FROM t;
COMMIT;
