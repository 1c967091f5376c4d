-- TEXT keys with NOCASE and RTRIM collations: equal under the collation is
-- the same key, and order follows the collation.
.mode list
.headers off
CREATE VIRTUAL TABLE temp.nc USING mvcc(name TEXT COLLATE NOCASE PRIMARY KEY, v);
INSERT INTO nc VALUES ('Apple', 1), ('banana', 2), ('_under', 3), ('Cherry', 4);
SELECT name FROM nc;
SELECT v FROM nc WHERE name = 'APPLE';
INSERT INTO nc VALUES ('apple', 5);
CREATE VIRTUAL TABLE temp.rt USING mvcc(name TEXT COLLATE RTRIM PRIMARY KEY, v);
INSERT INTO rt VALUES ('a', 1), ('b  ', 2);
SELECT v FROM rt WHERE name = 'a   ';
INSERT INTO rt VALUES ('b', 3);
SELECT quote(name), v FROM rt;
