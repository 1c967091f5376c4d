-- In a key without affinity, values order by SQLite's type order: numbers,
-- then text, then blobs; ranges cross the types as SQLite's comparisons do.
.mode list
.headers off
CREATE VIRTUAL TABLE temp.m USING mvcc(k PRIMARY KEY, v);
CREATE TABLE nat(k PRIMARY KEY, v) WITHOUT ROWID;
INSERT INTO nat VALUES (x'00', 'a'), (x'', 'b'), ('', 'c'), ('a', 'd'), ('a' || char(0) || 'b', 'e'), ('ab', 'f'),
  (10, 'g'), (2.5, 'h'), (x'ff', 'i'), ('B', 'j'), (-5, 'k'), (x'0000', 'l'), ('b', 'm'), (' ', 'n');
INSERT INTO m SELECT * FROM nat;
SELECT group_concat(v, '') FROM (SELECT v FROM m ORDER BY k);
SELECT group_concat(v, '') FROM (SELECT v FROM nat ORDER BY k);
SELECT group_concat(v, '') FROM (SELECT v FROM m ORDER BY k DESC);
SELECT group_concat(v, '') FROM (SELECT v FROM nat ORDER BY k DESC);
SELECT group_concat(v, '') FROM m WHERE k > 3;
SELECT group_concat(v, '') FROM nat WHERE k > 3;
SELECT group_concat(v, '') FROM m WHERE k >= 'a' AND k < x'00';
SELECT group_concat(v, '') FROM nat WHERE k >= 'a' AND k < x'00';
SELECT group_concat(v, '') FROM m WHERE k < '';
SELECT group_concat(v, '') FROM nat WHERE k < '';
