-- LIMIT and OFFSET, pushed down to the store or not, give exactly what a
-- native table gives: negative and zero limits, offsets past the end,
-- limits near the largest integer, LIMIT with IN and ranges, and a compound
-- SELECT whose LIMIT/OFFSET counts across its arms (SQLite offers the
-- OFFSET to each arm's xBestIndex; only the first arm may skip rows).
-- Each line compares the mvcc table t with the native table n.
.mode list
.headers off
CREATE VIRTUAL TABLE temp.t USING mvcc(id INTEGER PRIMARY KEY, v);
CREATE TABLE n(id INTEGER PRIMARY KEY, v) WITHOUT ROWID;
INSERT INTO n SELECT value, value % 3 FROM generate_series(1, 20);
INSERT INTO t SELECT * FROM n;
SELECT 1, (SELECT group_concat(id) FROM (SELECT id FROM t LIMIT -1 OFFSET 17)), (SELECT group_concat(id) FROM (SELECT id FROM n LIMIT -1 OFFSET 17));
SELECT 2, (SELECT group_concat(id) FROM (SELECT id FROM t LIMIT 0)), (SELECT group_concat(id) FROM (SELECT id FROM n LIMIT 0));
SELECT 3, (SELECT group_concat(id) FROM (SELECT id FROM t LIMIT 3 OFFSET -5)), (SELECT group_concat(id) FROM (SELECT id FROM n LIMIT 3 OFFSET -5));
SELECT 4, (SELECT group_concat(id) FROM (SELECT id FROM t LIMIT 2 OFFSET 100)), (SELECT group_concat(id) FROM (SELECT id FROM n LIMIT 2 OFFSET 100));
SELECT 5, (SELECT group_concat(id) FROM (SELECT id FROM t LIMIT 2, 3)), (SELECT group_concat(id) FROM (SELECT id FROM n LIMIT 2, 3));
SELECT 6, (SELECT group_concat(id) FROM (SELECT id FROM t WHERE id IN (3, 5, 7, 9) ORDER BY id DESC LIMIT 2 OFFSET 1)), (SELECT group_concat(id) FROM (SELECT id FROM n WHERE id IN (3, 5, 7, 9) ORDER BY id DESC LIMIT 2 OFFSET 1));
SELECT 7, (SELECT group_concat(id) FROM (SELECT id FROM t WHERE id > 5 AND v = 1 ORDER BY id DESC LIMIT 2)), (SELECT group_concat(id) FROM (SELECT id FROM n WHERE id > 5 AND v = 1 ORDER BY id DESC LIMIT 2));
SELECT 8, (SELECT group_concat(id) FROM (SELECT id FROM t LIMIT 9223372036854775807)), (SELECT group_concat(id) FROM (SELECT id FROM n LIMIT 9223372036854775807));
SELECT 9, (SELECT group_concat(id) FROM (SELECT id FROM t LIMIT 9223372036854775807 OFFSET 18)), (SELECT group_concat(id) FROM (SELECT id FROM n LIMIT 9223372036854775807 OFFSET 18));
SELECT 10, (SELECT group_concat(id) FROM (SELECT id FROM t ORDER BY id DESC LIMIT 9223372036854775800 OFFSET 17)), (SELECT group_concat(id) FROM (SELECT id FROM n ORDER BY id DESC LIMIT 9223372036854775800 OFFSET 17));
SELECT 11, (SELECT group_concat(id) FROM (SELECT id FROM t LIMIT 1 OFFSET 9223372036854775807)), (SELECT group_concat(id) FROM (SELECT id FROM n LIMIT 1 OFFSET 9223372036854775807));
SELECT 12, (SELECT group_concat(x) FROM (SELECT 0 AS x UNION ALL SELECT id FROM t LIMIT 2 OFFSET 1)), (SELECT group_concat(x) FROM (SELECT 0 AS x UNION ALL SELECT id FROM n LIMIT 2 OFFSET 1));
SELECT 13, (SELECT group_concat(x) FROM (SELECT id AS x FROM t UNION ALL SELECT id FROM t LIMIT 3 OFFSET 18)), (SELECT group_concat(x) FROM (SELECT id AS x FROM n UNION ALL SELECT id FROM n LIMIT 3 OFFSET 18));
SELECT 14, (SELECT group_concat(x) FROM (SELECT id AS x FROM t WHERE id > 18 UNION ALL SELECT id FROM t WHERE id < 5 LIMIT 3 OFFSET 1)), (SELECT group_concat(x) FROM (SELECT id AS x FROM n WHERE id > 18 UNION ALL SELECT id FROM n WHERE id < 5 LIMIT 3 OFFSET 1));
