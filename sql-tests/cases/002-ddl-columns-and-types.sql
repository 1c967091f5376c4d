-- Column definitions as in CREATE TABLE: declared types, NOT NULL, an
-- INTEGER PRIMARY KEY; the declared schema is what SQLite reports.  DEFAULT
-- is refused (documented): SQLite passes a column omitted from an INSERT to
-- a virtual table as NULL, so a default could never apply.
.mode list
.headers off
CREATE VIRTUAL TABLE temp.people USING mvcc(id INTEGER PRIMARY KEY, name TEXT NOT NULL, age INT, score REAL, extra);
SELECT name, type, "notnull", dflt_value, pk FROM pragma_table_info('people') ORDER BY cid;
INSERT INTO people(id, name) VALUES (1, 'ann');
INSERT INTO people VALUES (2, 'bob', 40, 7, x'ff');
SELECT id, name, age, score, typeof(score), quote(extra) FROM people;
CREATE VIRTUAL TABLE temp.bad USING mvcc(id INTEGER PRIMARY KEY, n INT DEFAULT 3);
