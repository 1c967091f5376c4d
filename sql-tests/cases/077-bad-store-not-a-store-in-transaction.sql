-- A directory that is not a store, named inside BEGIN ... COMMIT (by
-- CREATE and by mvcc_attach), fails only that statement: the transaction
-- goes on and commits all of its work, native and mvcc.  (After
-- SQLITE_CORRUPT inside a transaction SQLite refuses every later write and
-- the COMMIT, "database disk image is malformed", so that code must not be
-- used for bad input.)
.mode list
.headers off
.system mkdir notastore && echo 'some data' > notastore/random.txt
CREATE VIRTUAL TABLE temp.ok USING mvcc(k PRIMARY KEY, v);
CREATE TABLE nat(x);
BEGIN;
INSERT INTO ok VALUES (1, 'pending');
INSERT INTO nat VALUES (1);
CREATE VIRTUAL TABLE temp.t2 USING mvcc(k PRIMARY KEY, store='notastore');
INSERT INTO ok VALUES (2, 'after CREATE');
SELECT mvcc_attach('notastore');
INSERT INTO ok VALUES (3, 'after mvcc_attach');
INSERT INTO nat VALUES (2);
COMMIT;
SELECT * FROM ok;
SELECT * FROM nat;
.system ls notastore
