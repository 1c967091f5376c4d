-- PRIMARY KEY(c COLLATE X) where c is compared by another collation: the key
-- decides uniqueness, SQLite's comparisons and ORDER BY use the column's,
-- as on a native WITHOUT ROWID table (n_ tables).
.mode list
.headers off
CREATE VIRTUAL TABLE temp.w USING mvcc(c0 TEXT, c1, PRIMARY KEY(c0 COLLATE NOCASE));
CREATE TABLE n_w(c0 TEXT, c1, PRIMARY KEY(c0 COLLATE NOCASE)) WITHOUT ROWID;
INSERT INTO w VALUES ('a', 1), ('B', 2);
INSERT INTO n_w VALUES ('a', 1), ('B', 2);
INSERT INTO w VALUES ('A', 3);
INSERT INTO n_w VALUES ('A', 3);
SELECT 'mvcc', group_concat(c0) FROM (SELECT c0 FROM w ORDER BY c0);
SELECT 'native', group_concat(c0) FROM (SELECT c0 FROM n_w ORDER BY c0);
SELECT 'mvcc', group_concat(c0) FROM (SELECT c0 FROM w ORDER BY c0 COLLATE NOCASE DESC);
SELECT 'native', group_concat(c0) FROM (SELECT c0 FROM n_w ORDER BY c0 COLLATE NOCASE DESC);
SELECT 'mvcc', count(*) FROM w WHERE c0 = 'A';
SELECT 'native', count(*) FROM n_w WHERE c0 = 'A';
SELECT 'mvcc', count(*) FROM w WHERE c0 = 'A' COLLATE NOCASE;
SELECT 'native', count(*) FROM n_w WHERE c0 = 'A' COLLATE NOCASE;
-- A BINARY key on an RTRIM column: 'a' and 'a ' are two rows, and a
-- multi-row DELETE or UPDATE reaches both (SQLite collects the keys it will
-- write by the key's collation).
CREATE VIRTUAL TABLE temp.r USING mvcc(c0 TEXT COLLATE RTRIM, c1, PRIMARY KEY(c0 COLLATE BINARY));
CREATE TABLE n_r(c0 TEXT COLLATE RTRIM, c1, PRIMARY KEY(c0 COLLATE BINARY)) WITHOUT ROWID;
INSERT INTO r VALUES ('a', 1), ('a ', 2), ('b', 3);
INSERT INTO n_r VALUES ('a', 1), ('a ', 2), ('b', 3);
UPDATE r SET c1 = c1 * 10 WHERE c0 = 'a';
SELECT 'mvcc', changes();
UPDATE n_r SET c1 = c1 * 10 WHERE c0 = 'a';
SELECT 'native', changes();
SELECT 'mvcc', quote(c0), c1 FROM r ORDER BY c0 COLLATE BINARY;
SELECT 'native', quote(c0), c1 FROM n_r ORDER BY c0 COLLATE BINARY;
DELETE FROM r;
SELECT 'mvcc', changes();
DELETE FROM n_r;
SELECT 'native', changes();
