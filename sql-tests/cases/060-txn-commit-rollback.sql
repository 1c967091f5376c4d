-- BEGIN ... COMMIT and ROLLBACK; reads see the transaction's own writes;
-- a transaction over two tables of one store is atomic.
.mode list
.headers off
CREATE VIRTUAL TABLE temp.a USING mvcc(id INTEGER PRIMARY KEY, n);
CREATE VIRTUAL TABLE temp.b USING mvcc(id INTEGER PRIMARY KEY, n);
INSERT INTO a VALUES (1, 100);
BEGIN;
UPDATE a SET n = n - 30 WHERE id = 1;
INSERT INTO b VALUES (1, 30);
SELECT (SELECT n FROM a WHERE id = 1), (SELECT n FROM b WHERE id = 1);
ROLLBACK;
SELECT (SELECT n FROM a WHERE id = 1), (SELECT count(*) FROM b);
BEGIN;
UPDATE a SET n = n - 30 WHERE id = 1;
INSERT INTO b VALUES (1, 30);
DELETE FROM a WHERE id = 1;
SELECT count(*) FROM a;
INSERT INTO a VALUES (1, 70);
COMMIT;
SELECT (SELECT n FROM a WHERE id = 1), (SELECT n FROM b WHERE id = 1);
BEGIN;
SELECT count(*) FROM a;
COMMIT;
BEGIN;
SELECT count(*) FROM b;
ROLLBACK;
