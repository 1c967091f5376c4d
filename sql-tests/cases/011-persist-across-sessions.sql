-- Tables and rows live in the store: a new session (the .sql2 file) has
-- them without declaring anything, with their definitions, keys and order;
-- what was rolled back is not there.
.mode list
.headers off
CREATE VIRTUAL TABLE temp.notes USING mvcc(id INTEGER PRIMARY KEY, body TEXT);
INSERT INTO notes VALUES (1, 'first'), (2, 'second');
BEGIN;
INSERT INTO notes VALUES (3, 'third');
COMMIT;
BEGIN;
INSERT INTO notes VALUES (4, 'rolled back');
ROLLBACK;
CREATE VIRTUAL TABLE temp.tags USING mvcc(tag TEXT COLLATE NOCASE, note INTEGER, PRIMARY KEY(tag, note DESC));
INSERT INTO tags VALUES ('red', 1), ('Blue', 1), ('red', 3), ('green', 2);
