-- OR ABORT (the default): a failing row undoes the whole statement, the
-- transaction goes on.
.mode list
.headers off
CREATE VIRTUAL TABLE temp.t USING mvcc(id INTEGER PRIMARY KEY, v);
INSERT INTO t VALUES (2, 'b');
BEGIN;
INSERT INTO t VALUES (1, 'a');
INSERT OR ABORT INTO t VALUES (3, 'c'), (2, 'dup'), (4, 'd');
INSERT INTO t SELECT 5, 'e' UNION ALL SELECT 2, 'dup';
SELECT * FROM t;
COMMIT;
SELECT * FROM t;
