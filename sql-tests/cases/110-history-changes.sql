-- mvcc_history('t') lists every version of every row of t in commit order:
-- ts (text in commit order), op, key (JSON array), row (JSON object, NULL
-- for a delete).  An UPDATE of the key is a delete of the old key and an
-- insert of the new one at one ts; a row inserted and deleted by one
-- transaction changed nothing and is not listed; a rolled-back
-- transaction is never there.
.mode list
.headers on
CREATE VIRTUAL TABLE temp.acc USING mvcc(id INTEGER PRIMARY KEY, owner TEXT, balance INTEGER);
INSERT INTO acc VALUES (1, 'ann', 100), (2, 'bob', 50);
UPDATE acc SET balance = balance - 10 WHERE id = 1;
UPDATE acc SET id = 3 WHERE id = 2;
DELETE FROM acc WHERE id = 1;
BEGIN;
INSERT INTO acc VALUES (9, 'tmp', 0);
DELETE FROM acc WHERE id = 9;
COMMIT;
BEGIN;
UPDATE acc SET balance = 0;
ROLLBACK;
INSERT INTO acc VALUES (1, 'ann again', 1);
SELECT op, key, row FROM mvcc_history('acc');
-- The ts texts: the canonical form, rising in commit order; the two rows
-- of one statement share one ts.
SELECT count(*) AS versions, count(DISTINCT ts) AS commits,
       sum(ts GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9] [0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]*') AS canonical
  FROM mvcc_history('acc');
SELECT count(*) AS out_of_order FROM (
  SELECT ts, lag(ts) OVER () AS prev FROM mvcc_history('acc')) WHERE prev > ts;
SELECT a.op || ' ' || a.key || ' + ' || b.op || ' ' || b.key AS key_change
  FROM mvcc_history('acc') a JOIN mvcc_history('acc') b ON a.ts = b.ts
 WHERE a.op = 'delete' AND b.op = 'insert';
-- Timestamps are close to now (the clock is the wall clock, UTC).
SELECT abs(julianday(substr(max(ts), 1, 23)) - julianday('now')) * 86400 < 60 AS near_now
  FROM mvcc_history('acc');
-- The table as it is equals the newest version of each key.
SELECT count(*) AS rows_now FROM acc;
SELECT count(*) AS live_keys FROM (
  SELECT key, op FROM mvcc_history('acc') h
   WHERE ts = (SELECT max(ts) FROM mvcc_history('acc') g WHERE g.key = h.key))
 WHERE op <> 'delete';
