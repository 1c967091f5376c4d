-- A table created inside BEGIN ... COMMIT can be written at once, by the
-- very next statement, and the writes commit with the transaction.
.mode list
.headers off
CREATE TABLE nat(x);
BEGIN;
CREATE VIRTUAL TABLE temp.u USING mvcc(id INTEGER PRIMARY KEY, v);
INSERT INTO u VALUES (1, 'x');
INSERT INTO u VALUES (2, 'y');
INSERT INTO nat VALUES (1);
SELECT * FROM u;
COMMIT;
SELECT * FROM u;
SELECT * FROM nat;
-- Also after other work in the transaction, and with a rollback.
BEGIN;
INSERT INTO nat VALUES (2);
CREATE VIRTUAL TABLE temp.w USING mvcc(id INTEGER PRIMARY KEY, v);
INSERT INTO w VALUES (1, 'gone');
ROLLBACK;
SELECT count(*) FROM nat;
CREATE VIRTUAL TABLE IF NOT EXISTS temp.w USING mvcc(id INTEGER PRIMARY KEY, v);
SELECT count(*) FROM w;
