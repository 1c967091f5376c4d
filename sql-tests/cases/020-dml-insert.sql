-- INSERT forms: single row, multi-row, INSERT ... SELECT (also from the same
-- table), column lists, and a duplicate key.
.mode list
.headers off
CREATE VIRTUAL TABLE temp.t USING mvcc(id INTEGER PRIMARY KEY, a TEXT, b REAL);
INSERT INTO t VALUES (1, 'x', 1.5);
INSERT INTO t VALUES (2, 'y', 2), (3, 'z', 3);
INSERT INTO t(b, id) VALUES (4.5, 4);
INSERT INTO t SELECT id + 10, a || a, b * 2 FROM t;
SELECT * FROM t;
INSERT INTO t VALUES (1, 'dup', 0);
SELECT changes(), total_changes() > 0;
SELECT count(*) FROM t;
