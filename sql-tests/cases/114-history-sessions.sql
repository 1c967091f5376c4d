-- History across connections and restarts: another connection's commits
-- show at once; an uncommitted transaction's writes show nowhere, not even
-- in its own connection's history (history lists committed versions);
-- after the writer commits they appear, later than everything listed
-- before; the history survives a restart (see the .sql2 session).
.mode list
.headers off
CREATE VIRTUAL TABLE temp.t USING mvcc(k TEXT PRIMARY KEY, n INTEGER);
INSERT INTO t VALUES ('a', 1);
.connection 1
.open test.db
.load ./build/mvcc
.mode list
.headers off
UPDATE t SET n = 2 WHERE k = 'a';
BEGIN;
INSERT INTO t VALUES ('b', 1);
SELECT 'own uncommitted write not listed', count(*) FROM mvcc_history('t') WHERE key = '["b"]';
.connection 0
SELECT op, key, row ->> 'n' FROM mvcc_history('t');
CREATE TEMP TABLE seen AS SELECT max(ts) AS last FROM mvcc_history('t');
.connection 1
COMMIT;
.connection 0
SELECT 'new since the last poll', op, key FROM mvcc_history('t') WHERE ts > (SELECT last FROM seen);
-- A transaction that rolls back leaves no version.
BEGIN;
UPDATE t SET n = 99;
DELETE FROM t WHERE k = 'a';
ROLLBACK;
SELECT count(*), sum(row ->> 'n' = 99) FROM mvcc_history('t');
