-- CREATE of a table the store already has, with the same definition, just
-- declares it and keeps its rows; another definition under that name is
-- refused, naming the stored one.  (A table already declared in this
-- session is SQLite's own "already exists".)
.mode list
.headers off
CREATE VIRTUAL TABLE temp.u USING mvcc(id INTEGER PRIMARY KEY, v TEXT);
INSERT INTO u VALUES (1, 'kept');
CREATE VIRTUAL TABLE temp.u USING mvcc(id INTEGER PRIMARY KEY, v TEXT);
CREATE VIRTUAL TABLE IF NOT EXISTS temp.u USING mvcc(id INTEGER PRIMARY KEY, v TEXT);
SELECT * FROM u;
CREATE VIRTUAL TABLE temp.s USING mvcc(a PRIMARY KEY, b, store='s2');
INSERT INTO s VALUES ('x', 'in s2');
CREATE VIRTUAL TABLE temp.r USING mvcc(a PRIMARY KEY, b, store='s2');
