-- Tables and rows live in the store: a new session has them without
-- declaring anything.
.mode list
CREATE VIRTUAL TABLE temp.notes USING mvcc(id INTEGER PRIMARY KEY, body TEXT);
INSERT INTO notes VALUES (1, 'first'), (2, 'second');
BEGIN;
INSERT INTO notes VALUES (3, 'third');
COMMIT;
BEGIN;
INSERT INTO notes VALUES (4, 'rolled back');
ROLLBACK;
