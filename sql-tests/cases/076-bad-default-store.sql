-- The default store's path (<database>-mvcc) is taken by a file: loading
-- the extension still works and native tables keep working; using the
-- default store is a clear error (once "mvcc: ", code SQLITE_CANTOPEN) that
-- fails only its own statement, also inside BEGIN; another store can still
-- be used.
.mode list
.headers off
.system echo 'not a store' > other.db-mvcc
.open other.db
.load ./build/mvcc
CREATE TABLE nat(x);
INSERT INTO nat VALUES (1);
CREATE VIRTUAL TABLE temp.t USING mvcc;
SELECT mvcc_attach();
BEGIN;
INSERT INTO nat VALUES (2);
CREATE VIRTUAL TABLE temp.t USING mvcc;
INSERT INTO nat VALUES (3);
COMMIT;
SELECT * FROM nat;
CREATE VIRTUAL TABLE temp.elsewhere USING mvcc(k PRIMARY KEY, v, store='good-store');
INSERT INTO elsewhere VALUES (1, 'fine');
SELECT * FROM elsewhere;
.system cat other.db-mvcc
