-- UPDATE of values, of the key (the row moves), by range, with expressions
-- reading the row; moving onto an existing key is a constraint error.
.mode list
.headers off
CREATE VIRTUAL TABLE temp.t USING mvcc(id INTEGER PRIMARY KEY, n INTEGER, s TEXT);
INSERT INTO t VALUES (1, 10, 'a'), (2, 20, 'b'), (3, 30, 'c');
UPDATE t SET n = n + 1 WHERE id = 2;
UPDATE t SET s = upper(s) WHERE id >= 2;
UPDATE t SET id = 10 WHERE id = 1;
SELECT * FROM t;
UPDATE t SET id = 3 WHERE id = 2;
UPDATE t SET id = id + 100;
SELECT * FROM t;
UPDATE t SET n = NULL, s = NULL WHERE id = 103;
SELECT id, quote(n), quote(s) FROM t WHERE id = 103;
