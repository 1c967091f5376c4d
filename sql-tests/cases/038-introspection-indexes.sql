-- mvcc_indexes lists every index of every table of the connection's stores:
-- its table, name, columns as a definition writes them (the collation when
-- it is not the column's own), unique, state and entries; RENAME and DROP
-- TABLE show in it.
.mode list
.headers on
CREATE VIRTUAL TABLE temp.t USING mvcc(id INTEGER PRIMARY KEY, email TEXT UNIQUE, a TEXT, b INT, UNIQUE(a COLLATE NOCASE, b DESC));
CREATE VIRTUAL TABLE temp.plain USING mvcc(k PRIMARY KEY, v);
INSERT INTO t VALUES (1, 'ann@x', 'p', 1), (2, 'bob@x', 'P', 2), (3, NULL, 'q', NULL);
SELECT "table", "index", columns, "unique", state, "rows" FROM mvcc_indexes ORDER BY "index";
DELETE FROM t WHERE id = 2;
ALTER TABLE t RENAME TO users;
SELECT "table", "index", "rows" FROM mvcc_indexes ORDER BY "index";
DROP TABLE users;
SELECT count(*) FROM mvcc_indexes;
