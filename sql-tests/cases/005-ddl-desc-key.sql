-- A DESC key column is stored in descending order: a full scan returns it
-- descending, and ranges and ORDER BY still come out right.
.mode list
.headers off
CREATE VIRTUAL TABLE temp.d USING mvcc(k INTEGER, v, PRIMARY KEY(k DESC));
INSERT INTO d VALUES (1, 'a'), (3, 'c'), (2, 'b'), (-1, 'z');
SELECT k FROM d;
SELECT k FROM d WHERE k > 0 ORDER BY k;
SELECT k FROM d WHERE k BETWEEN 1 AND 2 ORDER BY k DESC;
EXPLAIN QUERY PLAN SELECT k FROM d ORDER BY k DESC;
