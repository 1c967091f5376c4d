-- ALTER TABLE RENAME works and is kept in the store's catalog.
.mode list
CREATE VIRTUAL TABLE temp.old USING mvcc(k INTEGER PRIMARY KEY, v);
INSERT INTO old VALUES (1, 'x');
ALTER TABLE old RENAME TO new;
SELECT * FROM new;
INSERT INTO new VALUES (2, 'y');
SELECT * FROM old;
CREATE VIRTUAL TABLE temp.other USING mvcc;
ALTER TABLE other RENAME TO new;
