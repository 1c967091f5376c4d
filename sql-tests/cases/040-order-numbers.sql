-- Numeric keys sort as SQLite compares them (integers and reals together,
-- exactly): the mvcc order equals a native WITHOUT ROWID table's, both ways.
.mode list
.headers off
CREATE VIRTUAL TABLE temp.m USING mvcc(k PRIMARY KEY, v);
CREATE TABLE nat(k PRIMARY KEY, v) WITHOUT ROWID;
INSERT INTO nat VALUES (0, 'a'), (-1, 'b'), (1, 'c'), (9223372036854775807, 'd'), (-9223372036854775808, 'e'),
  (0.5, 'f'), (-0.5, 'g'), (1e300, 'h'), (-1e300, 'i'), (9007199254740993, 'j'), (9007199254740992.5, 'k'),
  (2.5, 'l'), (9223372036854775807.0, 'm'), (4.9e-324, 'n'), (-4.9e-324, 'o'), (127, 'p'), (128, 'q'),
  (-129, 'r'), (1e-5, 's'), (1e15, 't');
INSERT INTO m SELECT * FROM nat;
SELECT (SELECT group_concat(v, '') FROM (SELECT v FROM m ORDER BY k)) = (SELECT group_concat(v, '') FROM (SELECT v FROM nat ORDER BY k));
SELECT (SELECT group_concat(v, '') FROM (SELECT v FROM m ORDER BY k DESC)) = (SELECT group_concat(v, '') FROM (SELECT v FROM nat ORDER BY k DESC));
SELECT group_concat(v, '') FROM m;
-- 3 and 3.0 are the same key.
INSERT INTO m VALUES (3, 'three');
INSERT INTO m VALUES (3.0, 'again');
SELECT typeof(k), v FROM m WHERE k = 3.0;
-- Ranges across integers and reals.
SELECT group_concat(v, '') FROM m WHERE k > 0 AND k <= 128;
SELECT group_concat(v, '') FROM nat WHERE k > 0 AND k <= 128;
