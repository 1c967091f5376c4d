-- OR ROLLBACK: a conflict ends the whole transaction, earlier statements
-- included.
.mode list
.headers off
CREATE VIRTUAL TABLE temp.t USING mvcc(id INTEGER PRIMARY KEY, v);
INSERT INTO t VALUES (2, 'b');
BEGIN;
INSERT INTO t VALUES (1, 'a');
INSERT OR ROLLBACK INTO t VALUES (3, 'c'), (2, 'dup');
SELECT * FROM t;
COMMIT;
