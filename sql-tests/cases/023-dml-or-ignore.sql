-- OR IGNORE: conflicting rows are skipped, the others go in.
.mode list
.headers off
CREATE VIRTUAL TABLE temp.t USING mvcc(id INTEGER PRIMARY KEY, v);
INSERT INTO t VALUES (2, 'b');
INSERT OR IGNORE INTO t VALUES (1, 'a'), (2, 'dup'), (3, 'c');
SELECT * FROM t;
UPDATE OR IGNORE t SET id = 3 WHERE id = 1;
SELECT * FROM t;
