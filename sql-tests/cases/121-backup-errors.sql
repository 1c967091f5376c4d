-- mvcc_backup refuses, with a clear message and nothing changed: a
-- directory that exists, a missing parent, an empty or NULL directory, a
-- store directory that holds no store (never created by the backup), and
-- the in-memory store.  A failed backup fails its statement only: the
-- surrounding transaction goes on and commits.
.mode list
.headers off
CREATE VIRTUAL TABLE temp.t USING mvcc(id INTEGER PRIMARY KEY, v);
INSERT INTO t VALUES (1, 'one');
SELECT mvcc_backup('b1') IS NOT NULL;
SELECT mvcc_backup('b1');
SELECT mvcc_backup('no/such/parent');
SELECT mvcc_backup('');
SELECT mvcc_backup(NULL);
SELECT mvcc_backup('b2', 'nowhere');
.system mkdir empty
SELECT mvcc_backup('b2', 'empty');
.system ls empty | wc -l
SELECT mvcc_backup('b2', '');
BEGIN;
INSERT INTO t VALUES (2, 'two');
SELECT mvcc_backup('b1');
INSERT INTO t VALUES (3, 'three');
COMMIT;
SELECT * FROM t;
.system ls -d b2 2>/dev/null | wc -l
SELECT mvcc_backup('b2', ':memory:');
.open :memory:
.load ./build/mvcc
SELECT mvcc_backup('b3');
.system ls -d b3 2>/dev/null | wc -l
