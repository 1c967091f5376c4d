-- A constraint on ts is pushed down (EXPLAIN QUERY PLAN names it in the
-- plan's argument list) and ORDER BY ts needs no sort, so
-- WHERE ts > :last_seen is a cheap change feed.  Any value gives SQLite's
-- answer: a ts from an earlier poll, a plain date, a number (compared as
-- text or as a number, by the affinity of its expression, as with any TEXT
-- column), NULL, a BLOB: each count equals the count over a native table
-- holding the same ts texts in a TEXT column.
.mode list
.headers on
CREATE VIRTUAL TABLE temp.t USING mvcc(k PRIMARY KEY, v);
EXPLAIN QUERY PLAN SELECT * FROM mvcc_history('t') WHERE ts > '2026-01-01' ORDER BY ts;
EXPLAIN QUERY PLAN SELECT * FROM mvcc_history('t', 1) WHERE ts BETWEEN '2026' AND '2027';
EXPLAIN QUERY PLAN SELECT * FROM mvcc_history('t') ORDER BY ts DESC;
.headers off
-- A change feed: each poll returns what committed after the last one.
CREATE TEMP TABLE feed(last TEXT);
INSERT INTO feed VALUES ('');
INSERT INTO t VALUES (1, 'a'), (2, 'b');
SELECT op, key FROM mvcc_history('t') WHERE ts > (SELECT last FROM feed) ORDER BY ts;
UPDATE feed SET last = (SELECT max(ts) FROM mvcc_history('t') WHERE ts > (SELECT last FROM feed));
SELECT 'poll 2: nothing new', count(*) FROM mvcc_history('t') WHERE ts > (SELECT last FROM feed);
UPDATE t SET v = 'a2' WHERE k = 1;
DELETE FROM t WHERE k = 2;
INSERT INTO t VALUES (3, 'c');
SELECT op, key FROM mvcc_history('t') WHERE ts > (SELECT last FROM feed) ORDER BY ts;
UPDATE feed SET last = (SELECT max(ts) FROM mvcc_history('t') WHERE ts > (SELECT last FROM feed));
UPDATE t SET v = 'c2' WHERE k = 3;
SELECT op, key, row ->> 'v' FROM mvcc_history('t') WHERE ts > (SELECT last FROM feed) ORDER BY ts;
-- Bounds of every kind agree with the same filter applied by SQLite alone.
CREATE TEMP TABLE marks(ts TEXT);
INSERT INTO marks SELECT ts FROM mvcc_history('t');
CREATE TEMP TABLE probes(x);
INSERT INTO probes SELECT ts FROM marks;
INSERT INTO probes SELECT substr(ts, 1, 19) FROM marks;
INSERT INTO probes SELECT substr(ts, 1, 10) FROM marks;
INSERT INTO probes SELECT ts || '.0000000001' FROM marks;
INSERT INTO probes VALUES ('2000-01-01'), ('9999-12-31'), (''), (5), (20261207), (3.5), (NULL), (x'32'), ('2026-12-07 99'), ('z');
SELECT 'pushdown disagrees', x FROM probes WHERE
     (SELECT count(*) FROM mvcc_history('t') WHERE ts > x) <> (SELECT count(*) FROM marks WHERE ts > x)
  OR (SELECT count(*) FROM mvcc_history('t') WHERE ts >= x) <> (SELECT count(*) FROM marks WHERE ts >= x)
  OR (SELECT count(*) FROM mvcc_history('t') WHERE ts < x) <> (SELECT count(*) FROM marks WHERE ts < x)
  OR (SELECT count(*) FROM mvcc_history('t') WHERE ts <= x) <> (SELECT count(*) FROM marks WHERE ts <= x)
  OR (SELECT count(*) FROM mvcc_history('t') WHERE ts = x) <> (SELECT count(*) FROM marks WHERE ts = x)
  OR (SELECT count(*) FROM mvcc_history('t') WHERE ts BETWEEN x AND x || 'z') <> (SELECT count(*) FROM marks WHERE ts BETWEEN x AND x || 'z');
SELECT 'probes', count(*) FROM probes;
SELECT 'exact ts', count(*) FROM marks m WHERE (SELECT count(*) FROM mvcc_history('t') WHERE ts = m.ts) <> (SELECT count(*) FROM marks n WHERE n.ts = m.ts);
SELECT 'since 2000', count(*) FROM mvcc_history('t') WHERE ts > '2000-01-01';
SELECT 'before 2000', count(*) FROM mvcc_history('t') WHERE ts < '2000-01-01';
SELECT 'literals', (SELECT count(*) FROM mvcc_history('t') WHERE ts > 5) = (SELECT count(*) FROM marks WHERE ts > 5),
       (SELECT count(*) FROM mvcc_history('t') WHERE ts < 3000) = (SELECT count(*) FROM marks WHERE ts < 3000),
       (SELECT count(*) FROM mvcc_history('t') WHERE ts >= 2000.5) = (SELECT count(*) FROM marks WHERE ts >= 2000.5),
       (SELECT count(*) FROM mvcc_history('t') WHERE ts < x'FF') = (SELECT count(*) FROM marks WHERE ts < x'FF');
