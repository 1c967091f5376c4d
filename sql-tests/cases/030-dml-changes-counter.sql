-- changes() and total_changes() count the rows of INSERT, UPDATE and DELETE
-- on mvcc tables as on native ones, and reads in autocommit mode leave them
-- alone.  One known difference (README, "Transactions"): the first read of
-- an mvcc table inside BEGIN enrolls the connection in SQLite's transaction
-- with a no-op DELETE on the marker table, which sets changes() to 0;
-- total_changes() stays exact.
.mode list
.headers off
CREATE VIRTUAL TABLE temp.t USING mvcc(id INTEGER PRIMARY KEY, v);
INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c');
SELECT changes();
CREATE TABLE nat(x);
INSERT INTO nat VALUES (1), (2);
SELECT count(*) FROM t;
SELECT changes();
BEGIN;
UPDATE t SET v = 'z' WHERE id >= 2;
SELECT changes();
SELECT count(*) FROM t WHERE id = 1;
SELECT changes();
DELETE FROM t WHERE id = 1;
SELECT changes(), total_changes();
COMMIT;
BEGIN;
INSERT INTO nat VALUES (3), (4), (5), (6);
SELECT * FROM t WHERE id = 3;
SELECT changes(), total_changes();
COMMIT;
