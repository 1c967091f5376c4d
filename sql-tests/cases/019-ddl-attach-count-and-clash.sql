-- mvcc_attach(DIR) returns how many tables it declared (0 when all are
-- declared already), and a name that temp already uses for something else
-- is a clear error, not silently skipped; after the clash is removed the
-- table is declared.
.mode list
.headers off
CREATE VIRTUAL TABLE temp.x USING mvcc(k PRIMARY KEY, v, store='other');
CREATE VIRTUAL TABLE temp.y USING mvcc(k PRIMARY KEY, v, store='other');
INSERT INTO y VALUES (1, 'in the store');
.open test.db
.load ./build/mvcc
CREATE TEMP TABLE y(native);
SELECT mvcc_attach('other');
SELECT name FROM sqlite_temp_master WHERE name IN ('x', 'y') ORDER BY name;
DROP TABLE temp.y;
SELECT mvcc_attach('other');
SELECT mvcc_attach('other');
SELECT * FROM y;
