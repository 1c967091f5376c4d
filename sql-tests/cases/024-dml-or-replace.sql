-- OR REPLACE (and REPLACE INTO): the conflicting row is replaced; an UPDATE
-- moving a key onto an existing one replaces it too.
.mode list
.headers off
CREATE VIRTUAL TABLE temp.t USING mvcc(id INTEGER PRIMARY KEY, v);
INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c');
INSERT OR REPLACE INTO t VALUES (2, 'B'), (4, 'd');
REPLACE INTO t VALUES (1, 'A');
SELECT * FROM t;
UPDATE OR REPLACE t SET id = 3 WHERE id = 4;
SELECT * FROM t;
