-- OR FAIL: rows before the failing one stay, the statement stops there.
.mode list
.headers off
CREATE VIRTUAL TABLE temp.t USING mvcc(id INTEGER PRIMARY KEY, v);
INSERT INTO t VALUES (2, 'b');
INSERT OR FAIL INTO t VALUES (1, 'a'), (2, 'dup'), (3, 'c');
SELECT * FROM t;
BEGIN;
INSERT OR FAIL INTO t VALUES (4, 'd'), (1, 'dup'), (5, 'e');
COMMIT;
SELECT * FROM t;
