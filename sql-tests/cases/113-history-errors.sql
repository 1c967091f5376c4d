-- Bad arguments to mvcc_history get clear errors and change nothing: no
-- table name, an unknown table, a native table, a dropped table, more key
-- values than key columns, a NULL key value.  A value of another type than
-- the key column's matches nothing, as = would.
.mode list
CREATE VIRTUAL TABLE temp.t USING mvcc(id INTEGER PRIMARY KEY, v TEXT);
CREATE VIRTUAL TABLE temp.pair USING mvcc(a, b, v, PRIMARY KEY(a, b));
INSERT INTO t VALUES (1, 'one');
INSERT INTO pair VALUES (1, 2, 'x');
CREATE TABLE native(id INTEGER PRIMARY KEY);
SELECT * FROM mvcc_history;
SELECT * FROM mvcc_history(NULL);
SELECT * FROM mvcc_history('nosuch');
SELECT * FROM mvcc_history('native');
SELECT * FROM mvcc_history('t', 1, 2);
SELECT * FROM mvcc_history('pair', 1, 2, 3);
SELECT * FROM mvcc_history('t', NULL);
SELECT * FROM mvcc_history('pair', 1, NULL);
SELECT count(*) FROM mvcc_history('t', 'one');
SELECT count(*) FROM mvcc_history('t', x'01');
SELECT count(*) FROM mvcc_history('t', '1');
SELECT count(*) FROM mvcc_history('T');
DROP TABLE pair;
SELECT * FROM mvcc_history('pair');
-- Nothing was changed by the errors.
SELECT * FROM t;
SELECT op, key, row FROM mvcc_history('t');
