-- A key declared as a table constraint, PRIMARY KEY(c), keeps its column's
-- collation: constraints on it are served by the key, and SQLite compares
-- with the column's collation, exactly as on a native WITHOUT ROWID table
-- (n_ tables below) with the same definition.
.mode list
.headers off
CREATE VIRTUAL TABLE temp.u USING mvcc(c0 TEXT COLLATE NOCASE, c1, PRIMARY KEY(c0));
CREATE TABLE n_u(c0 TEXT COLLATE NOCASE, c1, PRIMARY KEY(c0)) WITHOUT ROWID;
INSERT INTO u VALUES ('a', 1), ('b', 2);
INSERT INTO n_u VALUES ('a', 1), ('b', 2);
SELECT 'mvcc', c0 FROM u WHERE c0 = 'A';
SELECT 'native', c0 FROM n_u WHERE c0 = 'A';
SELECT 'mvcc', c0 FROM u WHERE c0 IN ('A');
SELECT 'native', c0 FROM n_u WHERE c0 IN ('A');
SELECT 'mvcc', c0 FROM u WHERE c0 <= 'A';
SELECT 'native', c0 FROM n_u WHERE c0 <= 'A';
SELECT 'mvcc', group_concat(c0) FROM (SELECT c0 FROM u ORDER BY c0 DESC);
SELECT 'native', group_concat(c0) FROM (SELECT c0 FROM n_u ORDER BY c0 DESC);
EXPLAIN QUERY PLAN SELECT c0 FROM u WHERE c0 = 'A';
INSERT INTO u VALUES ('A', 3);
INSERT INTO n_u VALUES ('A', 3);
-- RTRIM: 'a' = 'a ', so c0 < 'a ' is not true of 'a'.
CREATE VIRTUAL TABLE temp.t USING mvcc(c0 TEXT COLLATE RTRIM, c1, PRIMARY KEY(c0));
CREATE TABLE n_t(c0 TEXT COLLATE RTRIM, c1, PRIMARY KEY(c0)) WITHOUT ROWID;
INSERT INTO t VALUES ('a', 1), ('b', 2);
INSERT INTO n_t VALUES ('a', 1), ('b', 2);
DELETE FROM t WHERE c0 < 'a ';
SELECT 'mvcc', changes();
DELETE FROM n_t WHERE c0 < 'a ';
SELECT 'native', changes();
SELECT 'mvcc', group_concat(c0) FROM t;
SELECT 'native', group_concat(c0) FROM n_t;
-- CONSTRAINT name PRIMARY KEY(...), and NOT NULL on the column.
CREATE VIRTUAL TABLE temp.k USING mvcc(c0 VARCHAR(5) NOT NULL COLLATE NOCASE, c1 INT, CONSTRAINT pk PRIMARY KEY(c0 DESC));
INSERT INTO k VALUES ('x', 1), ('Y', 2), ('z', 3);
SELECT 'mvcc', group_concat(c0) FROM (SELECT c0 FROM k WHERE c0 BETWEEN 'X' AND 'y' ORDER BY c0);
EXPLAIN QUERY PLAN SELECT c0 FROM k WHERE c0 BETWEEN 'X' AND 'y' ORDER BY c0;
INSERT INTO k VALUES (NULL, 4);
INSERT INTO k(c1) VALUES (5);
-- A composite key with per-column collations.
CREATE VIRTUAL TABLE temp.c USING mvcc(a TEXT COLLATE NOCASE, b TEXT COLLATE RTRIM, v, PRIMARY KEY(a, b DESC));
CREATE TABLE n_c(a TEXT COLLATE NOCASE, b TEXT COLLATE RTRIM, v, PRIMARY KEY(a, b DESC)) WITHOUT ROWID;
INSERT INTO c VALUES ('p', 'q', 1), ('P', 'r', 2), ('s', 'q', 3);
INSERT INTO n_c VALUES ('p', 'q', 1), ('P', 'r', 2), ('s', 'q', 3);
SELECT 'mvcc', a, b, v FROM c WHERE a = 'P' AND b >= 'q  ' ORDER BY a, b DESC;
SELECT 'native', a, b, v FROM n_c WHERE a = 'P' AND b >= 'q  ' ORDER BY a, b DESC;
EXPLAIN QUERY PLAN SELECT v FROM c WHERE a = 'P' AND b >= 'q  ' ORDER BY a, b DESC;
INSERT INTO c VALUES ('S', 'q ', 4);
INSERT INTO n_c VALUES ('S', 'q ', 4);
