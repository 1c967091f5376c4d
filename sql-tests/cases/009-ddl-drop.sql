-- DROP TABLE removes the table and its rows from the store: created again,
-- it is empty, and a new session does not see the dropped one.
.mode list
.headers off
CREATE VIRTUAL TABLE temp.t USING mvcc(k INTEGER PRIMARY KEY, v);
INSERT INTO t VALUES (1, 'a'), (2, 'b');
DROP TABLE t;
SELECT * FROM t;
CREATE VIRTUAL TABLE temp.t USING mvcc(k INTEGER PRIMARY KEY, v);
SELECT count(*) FROM t;
CREATE VIRTUAL TABLE temp.gone USING mvcc;
DROP TABLE gone;
