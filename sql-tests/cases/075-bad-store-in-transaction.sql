-- A store directory that cannot be opened, named inside BEGIN ... COMMIT,
-- fails only the statement that names it: the transaction goes on and
-- commits all of its work, native and mvcc.  (SQLITE_IOERR makes SQLite
-- roll the whole transaction back, so it must not be used for bad input;
-- SQLITE_CANTOPEN is what the default store already reports.)
.mode list
.headers off
CREATE VIRTUAL TABLE temp.ok USING mvcc(k PRIMARY KEY, v);
CREATE TABLE nat(x);
BEGIN;
INSERT INTO ok VALUES (1, 'pending');
INSERT INTO nat VALUES (1);
CREATE VIRTUAL TABLE temp.t1 USING mvcc(k PRIMARY KEY, store='/dev/null/store');
INSERT INTO ok VALUES (2, 'after a missing store');
SELECT mvcc_attach('/dev/null/other');
INSERT INTO nat VALUES (2);
COMMIT;
SELECT * FROM ok;
SELECT * FROM nat;
