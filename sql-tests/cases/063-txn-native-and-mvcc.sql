-- One SQL transaction over native tables and mvcc tables (two of them, one
-- store) commits or rolls back as a whole, also through savepoints.
.mode list
.headers off
CREATE TABLE nat(x);
CREATE VIRTUAL TABLE temp.a USING mvcc(id INTEGER PRIMARY KEY, n);
CREATE VIRTUAL TABLE temp.b USING mvcc(id INTEGER PRIMARY KEY, n);
BEGIN;
INSERT INTO nat VALUES (1);
INSERT INTO a VALUES (1, 10);
INSERT INTO b VALUES (1, 100);
ROLLBACK;
SELECT (SELECT count(*) FROM nat), (SELECT count(*) FROM a), (SELECT count(*) FROM b);
BEGIN;
INSERT INTO nat VALUES (2);
INSERT INTO a VALUES (2, 20);
SAVEPOINT s;
INSERT INTO nat VALUES (3);
INSERT INTO b VALUES (3, 300);
ROLLBACK TO s;
INSERT INTO b VALUES (4, 400);
COMMIT;
SELECT (SELECT group_concat(x) FROM nat), (SELECT group_concat(id) FROM a), (SELECT group_concat(id) FROM b);
-- A failing statement on the native table undoes only itself there too.
CREATE TABLE uniq(x PRIMARY KEY);
INSERT INTO uniq VALUES (1);
BEGIN;
INSERT INTO a VALUES (5, 50);
INSERT INTO uniq VALUES (2), (1);
INSERT INTO b VALUES (5, 500);
COMMIT;
SELECT (SELECT group_concat(x) FROM uniq), (SELECT group_concat(id) FROM a), (SELECT group_concat(id) FROM b);
