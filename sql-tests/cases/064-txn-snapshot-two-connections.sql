-- Two connections of this process (the shell's .connection), no waiting
-- and no conflicts: a BEGIN ... COMMIT that only reads sees one snapshot
-- (not the other connection's later commits, nor its new rows), readers do
-- not wait for an uncommitted writer and do not see its writes, and after
-- COMMIT the next transaction sees everything committed before it began.
.mode list
.headers off
CREATE VIRTUAL TABLE temp.t USING mvcc(id INTEGER PRIMARY KEY, n);
INSERT INTO t VALUES (1, 10), (2, 20);
.connection 1
.open test.db
.load ./build/mvcc
.mode list
.headers off
BEGIN;
SELECT group_concat(id || ':' || n) FROM t;
.connection 0
UPDATE t SET n = 11 WHERE id = 1;
INSERT INTO t VALUES (3, 30);
DELETE FROM t WHERE id = 2;
SELECT group_concat(id || ':' || n) FROM t;
.connection 1
SELECT group_concat(id || ':' || n) FROM t;
SELECT n FROM t WHERE id = 2;
SELECT count(*) FROM t WHERE id > 2;
COMMIT;
SELECT group_concat(id || ':' || n) FROM t;
-- An uncommitted writer: readers neither wait nor see its write.
.connection 0
BEGIN;
UPDATE t SET n = 12 WHERE id = 1;
INSERT INTO t VALUES (4, 40);
SELECT group_concat(id || ':' || n) FROM t;
.connection 1
SELECT group_concat(id || ':' || n) FROM t;
BEGIN;
SELECT group_concat(id || ':' || n) FROM t;
.connection 0
COMMIT;
.connection 1
SELECT group_concat(id || ':' || n) FROM t;
COMMIT;
SELECT group_concat(id || ':' || n) FROM t;
