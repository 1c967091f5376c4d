-- Composite keys order by their columns in turn (with DESC columns
-- reversed), like a native WITHOUT ROWID table with the same key.
.mode list
.headers off
CREATE VIRTUAL TABLE temp.m USING mvcc(a, b, c TEXT, v, PRIMARY KEY(a, b DESC, c));
CREATE TABLE nat(a, b, c TEXT, v, PRIMARY KEY(a, b DESC, c)) WITHOUT ROWID;
INSERT INTO nat VALUES (1, 1, 'x', 'a'), (1, 2, 'x', 'b'), (1, 2, 'y', 'c'), (2, 1, '', 'd'), (2, 1.5, 'z', 'e'),
  (1, 'x', 'x', 'f'), (0, x'01', 'q', 'g'), (2, -1, 'a', 'h'), (1, 2, 'x ', 'i'), (10, 0, '', 'j');
INSERT INTO m SELECT * FROM nat;
SELECT (SELECT group_concat(v, '') FROM m), (SELECT group_concat(v, '') FROM nat);
SELECT (SELECT group_concat(v, '') FROM (SELECT v FROM m ORDER BY a DESC, b ASC, c DESC)),
       (SELECT group_concat(v, '') FROM (SELECT v FROM nat ORDER BY a DESC, b ASC, c DESC));
SELECT (SELECT group_concat(v, '') FROM m WHERE a = 1), (SELECT group_concat(v, '') FROM nat WHERE a = 1);
SELECT (SELECT group_concat(v, '') FROM m WHERE a = 1 AND b = 2), (SELECT group_concat(v, '') FROM nat WHERE a = 1 AND b = 2);
SELECT (SELECT group_concat(v, '') FROM m WHERE a = 2 AND b < 1.5), (SELECT group_concat(v, '') FROM nat WHERE a = 2 AND b < 1.5);
SELECT (SELECT group_concat(v, '') FROM m WHERE a IN (2, 0)), (SELECT group_concat(v, '') FROM nat WHERE a IN (2, 0));
