-- PRIMARY KEY(a, b): rows ordered by a, then b; constraints on a and on
-- (a, b) are answered by the store (EXPLAIN QUERY PLAN), and the hidden key
-- column stays hidden from SELECT *.
.mode list
.headers off
CREATE VIRTUAL TABLE temp.pairs USING mvcc(a INTEGER, b TEXT, c, PRIMARY KEY(a, b));
INSERT INTO pairs VALUES (2, 'x', 1), (1, 'z', 2), (1, 'a', 3), (2, 'b', 4), (3, 'a', 5);
SELECT * FROM pairs;
SELECT * FROM pairs WHERE a = 1;
SELECT * FROM pairs WHERE a = 2 AND b = 'x';
SELECT * FROM pairs WHERE a = 1 AND b >= 'b';
SELECT * FROM pairs WHERE a >= 2 ORDER BY a DESC, b DESC;
EXPLAIN QUERY PLAN SELECT * FROM pairs WHERE a = 2 AND b = 'x';
EXPLAIN QUERY PLAN SELECT * FROM pairs WHERE a = 1 AND b > 'b';
EXPLAIN QUERY PLAN SELECT * FROM pairs WHERE a > 1;
INSERT INTO pairs VALUES (1, 'a', 9);
UPDATE pairs SET c = 30 WHERE a = 1 AND b = 'a';
UPDATE pairs SET b = 'y' WHERE a = 2 AND b = 'x';
DELETE FROM pairs WHERE a = 3;
SELECT * FROM pairs;
