-- ALTER TABLE RENAME works, is kept in the store's catalog, and frees the
-- old name for a new table; renaming onto a taken name is SQLite's error.
.mode list
.headers off
CREATE VIRTUAL TABLE temp.old USING mvcc(k INTEGER PRIMARY KEY, v);
INSERT INTO old VALUES (1, 'x');
ALTER TABLE old RENAME TO new;
SELECT * FROM new;
INSERT INTO new VALUES (2, 'y');
SELECT * FROM old;
CREATE VIRTUAL TABLE temp.other USING mvcc;
ALTER TABLE other RENAME TO new;
CREATE VIRTUAL TABLE temp.old USING mvcc(name TEXT PRIMARY KEY);
INSERT INTO old VALUES ('reused');
CREATE VIRTUAL TABLE temp.pair USING mvcc(a, b, PRIMARY KEY(a, b));
INSERT INTO pair VALUES (1, 2);
ALTER TABLE pair RENAME TO "Pair Two";
ALTER TABLE "Pair Two" RENAME TO pair3;
SELECT * FROM pair3 WHERE a = 1 AND b = 2;
