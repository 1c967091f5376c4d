-- SAVEPOINT, ROLLBACK TO and RELEASE, nested, inside BEGIN and on their own.
.mode list
.headers off
CREATE VIRTUAL TABLE temp.t USING mvcc(id INTEGER PRIMARY KEY, v);
BEGIN;
INSERT INTO t VALUES (1, 'a');
SAVEPOINT s1;
INSERT INTO t VALUES (2, 'b');
SAVEPOINT s2;
UPDATE t SET v = 'A' WHERE id = 1;
INSERT INTO t VALUES (3, 'c');
SELECT group_concat(id || v) FROM t;
ROLLBACK TO s2;
SELECT group_concat(id || v) FROM t;
INSERT INTO t VALUES (4, 'd');
RELEASE s2;
ROLLBACK TO s1;
SELECT group_concat(id || v) FROM t;
INSERT INTO t VALUES (5, 'e');
RELEASE s1;
COMMIT;
SELECT group_concat(id || v) FROM t;
SAVEPOINT outer;
INSERT INTO t VALUES (6, 'f');
ROLLBACK TO outer;
INSERT INTO t VALUES (7, 'g');
RELEASE outer;
SELECT group_concat(id || v) FROM t;
