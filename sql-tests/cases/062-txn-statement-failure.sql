-- A failing statement inside BEGIN undoes only its own effects; the
-- transaction goes on and commits the rest.
.mode list
.headers off
CREATE VIRTUAL TABLE temp.t USING mvcc(id INTEGER PRIMARY KEY, v);
INSERT INTO t VALUES (10, 'x');
BEGIN;
INSERT INTO t VALUES (1, 'a');
INSERT INTO t VALUES (2, 'b'), (3, 'c'), (10, 'dup');
UPDATE t SET id = id + 9;
INSERT INTO t SELECT id + 100, v FROM t;
SELECT group_concat(id) FROM t;
COMMIT;
SELECT group_concat(id) FROM t;
