-- UNIQUE constraints (a column's, and UNIQUE(a, b) with collations) behave
-- as on a native WITHOUT ROWID table (n_ tables): duplicates refused with
-- SQLite's message, several NULLs allowed, every conflict mode, OR REPLACE
-- deleting every row it conflicts with, UPDATE and DELETE keeping the
-- constraint, DROP TABLE and RENAME.
.mode list
.headers off
CREATE VIRTUAL TABLE temp.t USING mvcc(id INTEGER PRIMARY KEY, email TEXT UNIQUE, a TEXT, b INT, UNIQUE(a COLLATE NOCASE, b));
CREATE TABLE n_t(id INTEGER PRIMARY KEY, email TEXT UNIQUE, a TEXT, b INT, UNIQUE(a COLLATE NOCASE, b)) WITHOUT ROWID;
INSERT INTO t VALUES (1, 'ann@x', 'p', 1), (2, 'bob@x', 'p', 2), (3, NULL, 'q', NULL), (4, NULL, 'q', NULL);
INSERT INTO n_t VALUES (1, 'ann@x', 'p', 1), (2, 'bob@x', 'p', 2), (3, NULL, 'q', NULL), (4, NULL, 'q', NULL);
INSERT INTO t VALUES (5, 'ann@x', 'r', 5);
INSERT INTO n_t VALUES (5, 'ann@x', 'r', 5);
INSERT INTO t VALUES (5, 'cid@x', 'P', 2);
INSERT INTO n_t VALUES (5, 'cid@x', 'P', 2);
INSERT OR IGNORE INTO t VALUES (6, 'ann@x', 'r', 6), (7, 'dan@x', 'r', 7);
SELECT 'mvcc', changes();
INSERT OR IGNORE INTO n_t VALUES (6, 'ann@x', 'r', 6), (7, 'dan@x', 'r', 7);
SELECT 'native', changes();
-- One new row that conflicts with two others (email of 1, (a, b) of 2):
-- OR REPLACE deletes both.
INSERT OR REPLACE INTO t VALUES (8, 'ann@x', 'P', 2);
INSERT OR REPLACE INTO n_t VALUES (8, 'ann@x', 'P', 2);
SELECT 'mvcc', id, email, a, b FROM t ORDER BY id;
SELECT 'native', id, email, a, b FROM n_t ORDER BY id;
-- UPDATE: onto another row's value, onto its own, and freeing a value.
UPDATE t SET email = 'dan@x' WHERE id = 8;
UPDATE n_t SET email = 'dan@x' WHERE id = 8;
UPDATE t SET email = 'ann@x', b = b WHERE id = 8;
UPDATE n_t SET email = 'ann@x', b = b WHERE id = 8;
UPDATE t SET email = 'eve@x' WHERE id = 7;
UPDATE n_t SET email = 'eve@x' WHERE id = 7;
INSERT INTO t VALUES (9, 'dan@x', 's', 9);
INSERT INTO n_t VALUES (9, 'dan@x', 's', 9);
-- DELETE frees a value.
DELETE FROM t WHERE id = 9;
DELETE FROM n_t WHERE id = 9;
INSERT INTO t VALUES (10, 'dan@x', 't', 10);
INSERT INTO n_t VALUES (10, 'dan@x', 't', 10);
SELECT 'mvcc', id, email, a, b FROM t ORDER BY id;
SELECT 'native', id, email, a, b FROM n_t ORDER BY id;
-- Inside a transaction: a failing statement and ROLLBACK TO undo entries.
BEGIN;
INSERT INTO t VALUES (11, 'fay@x', 'u', 11);
SAVEPOINT s;
UPDATE t SET email = 'gus@x' WHERE id = 11;
ROLLBACK TO s;
INSERT INTO t VALUES (12, 'gus@x', 'u', 12);
INSERT INTO t VALUES (13, 'fay@x', 'v', 13);
COMMIT;
SELECT 'mvcc', id, email FROM t WHERE id > 10 ORDER BY id;
-- RENAME keeps the constraints; DROP TABLE takes them along.
ALTER TABLE t RENAME TO t2;
INSERT INTO t2 VALUES (14, 'fay@x', 'w', 14);
DROP TABLE t2;
CREATE VIRTUAL TABLE temp.t2 USING mvcc(id INTEGER PRIMARY KEY, email TEXT UNIQUE);
INSERT INTO t2 VALUES (1, 'fay@x');
SELECT 'mvcc', * FROM t2;
