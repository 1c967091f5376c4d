-- Point lookups, IN lists, ranges with each comparison, BETWEEN, ORDER BY in
-- both directions and LIMIT/OFFSET, all answered from the store.
.mode list
.headers off
CREATE VIRTUAL TABLE temp.t USING mvcc(id INTEGER PRIMARY KEY, v);
INSERT INTO t SELECT value, 'v' || value FROM generate_series(1, 30);
SELECT v FROM t WHERE id = 7;
SELECT v FROM t WHERE id = 99;
SELECT v FROM t WHERE id = NULL;
SELECT v FROM t WHERE id IS 8;
SELECT group_concat(id) FROM t WHERE id IN (5, 3, 99, 3, 1);
SELECT group_concat(id) FROM (SELECT id FROM t WHERE id IN (5, 3, 1) ORDER BY id DESC);
SELECT group_concat(id) FROM (SELECT id FROM t WHERE id IN (5, 3, 1) ORDER BY id ASC);
SELECT group_concat(id) FROM t WHERE id IN (SELECT value * 10 FROM generate_series(1, 5));
SELECT group_concat(id) FROM t WHERE id < 4;
SELECT group_concat(id) FROM t WHERE id <= 4;
SELECT group_concat(id) FROM t WHERE id > 27;
SELECT group_concat(id) FROM t WHERE id >= 27;
SELECT group_concat(id) FROM t WHERE id BETWEEN 10 AND 13;
SELECT group_concat(id) FROM t WHERE id > 10 AND id < 13;
SELECT group_concat(id) FROM t WHERE id > 10 AND id < 5;
SELECT group_concat(id) FROM (SELECT id FROM t WHERE id BETWEEN 10 AND 13 ORDER BY id DESC);
SELECT group_concat(id) FROM (SELECT id FROM t ORDER BY id DESC LIMIT 3);
SELECT group_concat(id) FROM (SELECT id FROM t ORDER BY id LIMIT 3 OFFSET 5);
SELECT group_concat(id) FROM (SELECT id FROM t WHERE id > 20 ORDER BY id DESC LIMIT 2 OFFSET 1);
SELECT group_concat(id) FROM (SELECT id FROM t WHERE id > 25 LIMIT 10);
SELECT count(*), sum(id) FROM t;
SELECT group_concat(id) FROM t WHERE v = 'v17';
SELECT group_concat(id) FROM t WHERE id > '5';
