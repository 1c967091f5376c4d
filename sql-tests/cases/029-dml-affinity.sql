-- Column affinity applies as on a native table: compare typeof() of the
-- same values stored in an mvcc table and in a native one.
.mode list
.headers off
CREATE VIRTUAL TABLE temp.m USING mvcc(k INTEGER PRIMARY KEY, i INTEGER, r REAL, t TEXT, n NUMERIC, b BLOB, x);
CREATE TABLE nat(k INTEGER PRIMARY KEY, i INTEGER, r REAL, t TEXT, n NUMERIC, b BLOB, x);
INSERT INTO m VALUES (1, '5', '5', 5, '5.0', '5', '5'), (2, 5.0, 5, 5.5, '1e3', 5, 5.0),
  (3, 'abc', 'abc', x'41', 'abc', 'abc', 'abc'), (4, '  7 ', 2.0, 1e20, 3.0, NULL, -0.0);
INSERT INTO nat SELECT * FROM m;
SELECT k, typeof(i), quote(i), typeof(r), quote(r), typeof(t), quote(t), typeof(n), quote(n), typeof(b), typeof(x) FROM m;
SELECT 'mismatch', * FROM (SELECT k, typeof(i), i, typeof(r), r, typeof(t), t, typeof(n), n, typeof(b), b, typeof(x), x FROM m
  EXCEPT SELECT k, typeof(i), i, typeof(r), r, typeof(t), t, typeof(n), n, typeof(b), b, typeof(x), x FROM nat);
-- A key with INTEGER affinity finds '2' and 2.0 as 2.
SELECT k FROM m WHERE k = '2';
SELECT k FROM m WHERE k = 2.0;
SELECT k FROM m WHERE k IN ('3', 4.0) ORDER BY k;
