-- A REAL key (values stored as 8-byte floats, as SQLite does) compared with
-- integer constants that a double cannot hold exactly: SQLite compares an
-- integer with a real exactly, so 9007199254740993 is not the stored
-- 9007199254740992.0 and is greater than it.  Same queries on a native
-- WITHOUT ROWID table; both must agree.
.mode list
.headers off
CREATE VIRTUAL TABLE temp.r USING mvcc(k REAL PRIMARY KEY, v);
CREATE TABLE nr(k REAL PRIMARY KEY, v) WITHOUT ROWID;
INSERT INTO nr VALUES (1, 'one'), (9007199254740992, 'p53'), (9223372036854775807, 'max'), (-9007199254740992, 'n53'), (2.5, 'x');
INSERT INTO r SELECT * FROM nr;
SELECT group_concat(quote(k)) FROM r;
SELECT 'eq', (SELECT group_concat(v) FROM r WHERE k = 9007199254740993), (SELECT group_concat(v) FROM nr WHERE k = 9007199254740993);
SELECT 'eq', (SELECT group_concat(v) FROM r WHERE k = 9223372036854775807), (SELECT group_concat(v) FROM nr WHERE k = 9223372036854775807);
SELECT 'lt', (SELECT group_concat(v) FROM r WHERE k < 9007199254740993), (SELECT group_concat(v) FROM nr WHERE k < 9007199254740993);
SELECT 'gt', (SELECT group_concat(v) FROM r WHERE k > 9007199254740991), (SELECT group_concat(v) FROM nr WHERE k > 9007199254740991);
SELECT 'gt', (SELECT group_concat(v) FROM r WHERE k > 9223372036854775806), (SELECT group_concat(v) FROM nr WHERE k > 9223372036854775806);
SELECT 'ge', (SELECT group_concat(v) FROM r WHERE k >= -9007199254740993), (SELECT group_concat(v) FROM nr WHERE k >= -9007199254740993);
SELECT 'in', (SELECT group_concat(v) FROM r WHERE k IN (9007199254740993, 1)), (SELECT group_concat(v) FROM nr WHERE k IN (9007199254740993, 1));
