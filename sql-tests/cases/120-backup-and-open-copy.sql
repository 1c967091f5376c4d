-- mvcc_backup(DIR) copies the default store into a new directory and
-- returns the copy's timestamp.  The copy beside a copy of the main file
-- (VACUUM INTO) opens as a database with all its tables, indexes and rows
-- as of the backup; later changes stay out of it.  A relative DIR is
-- resolved against the current directory.  mvcc_backup(DIR, STORE) backs
-- up another store.
.mode list
.headers off
CREATE VIRTUAL TABLE temp.accounts USING mvcc(id INTEGER PRIMARY KEY, owner TEXT, balance INTEGER);
CREATE VIRTUAL TABLE temp.notes USING mvcc(k TEXT PRIMARY KEY, body, UNIQUE(body));
SELECT mvcc_create_index('accounts_owner', 'accounts', 'owner');
INSERT INTO accounts VALUES (1, 'ann', 100), (2, 'bob', 50), (3, 'cy', 0);
INSERT INTO notes VALUES ('a', 'first'), ('b', 'second');
CREATE TABLE main.native(x);
INSERT INTO native VALUES (42);
CREATE VIRTUAL TABLE temp.o USING mvcc(id INTEGER PRIMARY KEY, v, store='other');
INSERT INTO o VALUES (7, 'in the other store');
-- The timestamp: a UTC date-time with nanoseconds.
SELECT mvcc_backup('copy.db-mvcc') GLOB '2[0-9][0-9][0-9]-[01][0-9]-[0-3][0-9] [0-2][0-9]:[0-5][0-9]:[0-6][0-9].[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]*';
VACUUM INTO 'copy.db';
SELECT mvcc_backup('other-copy', 'other') IS NOT NULL;
-- After the backup: in the store, not in the copy.
UPDATE accounts SET balance = balance - 30 WHERE id = 1;
UPDATE accounts SET balance = balance + 30 WHERE id = 3;
DELETE FROM notes WHERE k = 'b';
INSERT INTO o VALUES (8, 'later');
.open copy.db
.load ./build/mvcc
SELECT * FROM accounts;
SELECT sum(balance) FROM accounts;
SELECT * FROM notes;
SELECT * FROM native;
SELECT "table", "index", columns, state, rows FROM mvcc_indexes ORDER BY 2;
SELECT id FROM accounts WHERE owner = 'bob';
INSERT INTO notes VALUES ('c', 'first');
-- The copy is a store of its own: it takes writes.
INSERT INTO notes VALUES ('c', 'third');
SELECT mvcc_attach('other-copy');
SELECT * FROM o;
.open test.db
.load ./build/mvcc
SELECT * FROM accounts;
SELECT * FROM notes;
