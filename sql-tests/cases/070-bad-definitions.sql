-- Bad table definitions get clear errors, create nothing, and leave the
-- existing table and its rows intact: no PRIMARY KEY, several, CHECK,
-- foreign keys, AUTOINCREMENT, generated columns, an unsupported key
-- collation, the reserved column name, and malformed column definitions
-- (SQLite's own parser messages).
.mode list
.headers off
CREATE VIRTUAL TABLE temp.ok USING mvcc(k INTEGER PRIMARY KEY, v);
INSERT INTO ok VALUES (1, 'safe'), (2, 'sound');
CREATE VIRTUAL TABLE temp.t1 USING mvcc(a, b);
CREATE VIRTUAL TABLE temp.t2 USING mvcc(a PRIMARY KEY, b PRIMARY KEY);
CREATE VIRTUAL TABLE temp.t4 USING mvcc(a PRIMARY KEY, b CHECK (b > 0));
CREATE VIRTUAL TABLE temp.t5 USING mvcc(a PRIMARY KEY, b REFERENCES x(y));
CREATE VIRTUAL TABLE temp.t6 USING mvcc(a INTEGER PRIMARY KEY AUTOINCREMENT, b);
CREATE VIRTUAL TABLE temp.t7 USING mvcc(a TEXT COLLATE xyz PRIMARY KEY);
CREATE VIRTUAL TABLE temp.t8 USING mvcc(a PRIMARY KEY, __mvcc_key);
CREATE VIRTUAL TABLE temp.t9 USING mvcc(a PRIMARY KEY, b AS (a + 1));
CREATE VIRTUAL TABLE temp.t10 USING mvcc(PRIMARY KEY(a), b);
CREATE VIRTUAL TABLE temp.t11 USING mvcc(a PRIMARY KEY, b, PRIMARY KEY(b));
CREATE VIRTUAL TABLE temp.t12 USING mvcc(a, b, PRIMARY KEY(c));
CREATE VIRTUAL TABLE temp.t13 USING mvcc(a PRIMARY KEY, a);
CREATE VIRTUAL TABLE temp.t14 USING mvcc(a PRIMARY KEY, b NOT);
CREATE VIRTUAL TABLE temp.t16 USING mvcc(a PRIMARY KEY, b, CHECK(b > 0));
CREATE VIRTUAL TABLE temp.t17 USING mvcc(a PRIMARY KEY, b, FOREIGN KEY(b) REFERENCES ok(k));
CREATE VIRTUAL TABLE temp.t18 USING mvcc(a PRIMARY KEY, 123);
CREATE VIRTUAL TABLE temp.t19 USING mvcc(a PRIMARY KEY, b, (c));
CREATE VIRTUAL TABLE temp.t20 USING mvcc(a, b, PRIMARY KEY(a, b), PRIMARY KEY(a));
CREATE VIRTUAL TABLE temp.t21 USING mvcc(__MVCC_KEY PRIMARY KEY);
SELECT count(*) FROM sqlite_temp_master WHERE name LIKE 't%';
SELECT * FROM ok;
-- uint is a collation this connection has (the shell registers it), but a
-- key cannot use it: the store's order must not depend on a connection.
CREATE VIRTUAL TABLE temp.t22 USING mvcc(a TEXT COLLATE uint PRIMARY KEY, b);
CREATE VIRTUAL TABLE temp.t23 USING mvcc(a, b, PRIMARY KEY(a, b COLLATE uint));
-- Nor can a UNIQUE constraint, whose index lives in the store too.
CREATE VIRTUAL TABLE temp.t24 USING mvcc(a PRIMARY KEY, b TEXT COLLATE uint UNIQUE);
SELECT count(*) FROM sqlite_temp_master WHERE name LIKE 't%';
SELECT * FROM ok;
