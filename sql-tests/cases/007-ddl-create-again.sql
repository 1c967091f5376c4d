-- Creating a table that exists with the same definition just declares it;
-- another definition under the same name is refused, naming the stored one.
.mode list
CREATE VIRTUAL TABLE temp.t USING mvcc(id INTEGER PRIMARY KEY, v TEXT);
INSERT INTO t VALUES (1, 'kept');
DROP TABLE temp.t;
CREATE VIRTUAL TABLE temp.t USING mvcc(id INTEGER PRIMARY KEY, v TEXT);
SELECT count(*) FROM t;
CREATE VIRTUAL TABLE temp.u USING mvcc(id INTEGER PRIMARY KEY, v TEXT);
INSERT INTO u VALUES (1, 'kept');
CREATE VIRTUAL TABLE temp.s USING mvcc(a PRIMARY KEY, b, store='s2');
