-- Queries by a UNIQUE constraint's columns read through its index: =, IN,
-- IS NULL, ranges (which never match NULLs), ORDER BY in the index's order, and
-- UPDATE/DELETE by the unique column; answers equal a native table's (n_).
.mode list
.headers off
CREATE VIRTUAL TABLE temp.t USING mvcc(id INTEGER PRIMARY KEY, email TEXT UNIQUE, a TEXT, b INT, UNIQUE(a COLLATE NOCASE, b DESC));
CREATE TABLE n_t(id INTEGER PRIMARY KEY, email TEXT UNIQUE, a TEXT, b INT, UNIQUE(a COLLATE NOCASE, b DESC)) WITHOUT ROWID;
INSERT INTO t VALUES (1, 'ann@x', 'p', 1), (2, 'bob@x', 'P', 2), (3, NULL, 'q', NULL), (4, NULL, 'q', 7), (5, 'cy@x', 'r', 5);
-- Rows enough that reading through an index beats a full scan (plans
-- know the table's rows); they are deleted after the IN lists.
WITH RECURSIVE c(i) AS (SELECT 100 UNION ALL SELECT i + 1 FROM c WHERE i < 299)
INSERT INTO t SELECT i, 'f' || i || '@x', 'z', i FROM c;
INSERT INTO n_t SELECT * FROM t;
EXPLAIN QUERY PLAN SELECT * FROM t WHERE email = 'bob@x';
SELECT 'mvcc', * FROM t WHERE email = 'bob@x';
SELECT 'native', * FROM n_t WHERE email = 'bob@x';
EXPLAIN QUERY PLAN SELECT * FROM t WHERE email IN ('ann@x', 'cy@x', NULL);
SELECT 'mvcc', id FROM t WHERE email IN ('ann@x', 'cy@x', NULL);
SELECT 'native', id FROM n_t WHERE email IN ('ann@x', 'cy@x', NULL);
DELETE FROM t WHERE id >= 100;
DELETE FROM n_t WHERE id >= 100;
EXPLAIN QUERY PLAN SELECT id FROM t WHERE email < 'c' ORDER BY email DESC;
SELECT 'mvcc', group_concat(id) FROM (SELECT id FROM t WHERE email < 'c' ORDER BY email DESC);
SELECT 'native', group_concat(id) FROM (SELECT id FROM n_t WHERE email < 'c' ORDER BY email DESC);
SELECT 'mvcc', group_concat(id) FROM (SELECT id FROM t WHERE email >= 'b' ORDER BY email);
SELECT 'native', group_concat(id) FROM (SELECT id FROM n_t WHERE email >= 'b' ORDER BY email);
EXPLAIN QUERY PLAN SELECT id FROM t WHERE a = 'P' COLLATE NOCASE ORDER BY b DESC;
SELECT 'mvcc', group_concat(id) FROM (SELECT id FROM t WHERE a = 'P' COLLATE NOCASE ORDER BY b DESC);
SELECT 'native', group_concat(id) FROM (SELECT id FROM n_t WHERE a = 'P' COLLATE NOCASE ORDER BY b DESC);
SELECT 'mvcc', group_concat(id) FROM (SELECT id FROM t WHERE a = 'q' COLLATE NOCASE AND b > 0);
SELECT 'native', group_concat(id) FROM (SELECT id FROM n_t WHERE a = 'q' COLLATE NOCASE AND b > 0);
-- IS NULL finds the NULL entries through the index; = NULL finds nothing.
EXPLAIN QUERY PLAN SELECT id FROM t WHERE email IS NULL;
SELECT 'mvcc', group_concat(id) FROM t WHERE email IS NULL;
SELECT 'native', group_concat(id) FROM n_t WHERE email IS NULL;
SELECT 'mvcc', count(*) FROM t WHERE email = NULL;
SELECT 'mvcc', group_concat(id) FROM t WHERE a = 'q' COLLATE NOCASE AND b IS NULL;
SELECT 'native', group_concat(id) FROM n_t WHERE a = 'q' COLLATE NOCASE AND b IS NULL;
SELECT 'mvcc', group_concat(id) FROM t WHERE email IS 'bob@x';
-- A BINARY comparison cannot use the NOCASE index: a full scan.
EXPLAIN QUERY PLAN SELECT id FROM t WHERE a = 'P';
SELECT 'mvcc', group_concat(id) FROM t WHERE a = 'P';
EXPLAIN QUERY PLAN UPDATE t SET b = 9 WHERE email = 'ann@x';
UPDATE t SET b = 9 WHERE email = 'ann@x';
UPDATE n_t SET b = 9 WHERE email = 'ann@x';
DELETE FROM t WHERE email = 'cy@x';
DELETE FROM n_t WHERE email = 'cy@x';
SELECT 'mvcc', * FROM t ORDER BY id;
SELECT 'native', * FROM n_t ORDER BY id;
