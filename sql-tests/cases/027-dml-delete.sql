-- DELETE by key, by IN list, by range, by a non-key predicate, all.
.mode list
.headers off
CREATE VIRTUAL TABLE temp.t USING mvcc(id INTEGER PRIMARY KEY, v);
INSERT INTO t SELECT value, value * 10 FROM generate_series(1, 20);
DELETE FROM t WHERE id = 1;
DELETE FROM t WHERE id IN (2, 4, 99);
DELETE FROM t WHERE id BETWEEN 10 AND 15;
DELETE FROM t WHERE v = 170;
SELECT group_concat(id) FROM t;
SELECT changes();
DELETE FROM t;
SELECT count(*) FROM t;
