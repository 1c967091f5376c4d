-- mvcc_create_index / mvcc_drop_index: an index built over existing rows,
-- kept by every write after it, used by plans that EXPLAIN names, listed
-- in mvcc_indexes; names shared with tables and checked; a unique index
-- over duplicates fails and leaves nothing; DROP TABLE drops a table's
-- indexes, RENAME keeps them; other connections use them at once.  The
-- second session (.sql2) shows the catalog keeps them across a restart.
.mode list
CREATE VIRTUAL TABLE temp.accounts USING mvcc(id INTEGER PRIMARY KEY, owner TEXT, balance INT, tag TEXT COLLATE NOCASE);
INSERT INTO accounts VALUES (1, 'ann', 10, 'a'), (2, 'bob', 20, 'B'), (3, 'ann', 30, 'b'), (4, NULL, 5, NULL), (5, 'cy', 20, 'A');
SELECT mvcc_create_index('by_owner', 'accounts', 'owner, balance DESC');
SELECT "table", "index", columns, "unique", state, "rows" FROM mvcc_indexes;
EXPLAIN QUERY PLAN SELECT id FROM accounts WHERE owner = 'ann';
SELECT id, balance FROM accounts WHERE owner = 'ann';
EXPLAIN QUERY PLAN SELECT id FROM accounts WHERE owner = 'ann' ORDER BY balance DESC LIMIT 1;
SELECT id FROM accounts WHERE owner = 'ann' ORDER BY balance DESC LIMIT 1;
SELECT id FROM accounts WHERE owner IS NULL;
SELECT id FROM accounts WHERE owner > 'ann' ORDER BY owner;
-- Writes keep it exact.
UPDATE accounts SET owner = 'bob' WHERE id = 1;
DELETE FROM accounts WHERE id = 3;
INSERT INTO accounts VALUES (6, 'ann', 1, 'c');
SELECT id FROM accounts WHERE owner = 'bob' ORDER BY id;
SELECT id FROM accounts WHERE owner = 'ann';
SELECT mvcc_check('accounts');
-- Rolled back with its row.
BEGIN;
INSERT INTO accounts VALUES (7, 'zed', 0, NULL);
ROLLBACK;
SELECT count(*) FROM accounts WHERE owner = 'zed';
SELECT mvcc_check('accounts');
-- Unique: over duplicates it fails and leaves nothing behind.
SELECT mvcc_create_index('one_balance', 'accounts', 'balance', 'unique');
SELECT count(*) FROM mvcc_indexes WHERE "index" = 'one_balance';
SELECT mvcc_create_index('one_tag', 'accounts', 'tag', 'unique');
SELECT mvcc_create_index('one_tag', 'accounts', 'tag COLLATE BINARY', 'unique');
SELECT "index", columns, "unique" FROM mvcc_indexes ORDER BY "index";
INSERT INTO accounts VALUES (8, 'dan', 0, 'c');
INSERT OR IGNORE INTO accounts VALUES (8, 'dan', 0, 'c');
SELECT changes();
INSERT OR REPLACE INTO accounts VALUES (8, 'dan', 0, 'c');
SELECT id, owner, tag FROM accounts WHERE tag = 'c';
INSERT INTO accounts VALUES (9, 'eve', 0, NULL), (10, 'fay', 0, NULL);
SELECT mvcc_check('accounts');
-- Bad calls name what is wrong.
SELECT mvcc_create_index('by_owner', 'accounts', 'owner');
SELECT mvcc_create_index('accounts', 'accounts', 'owner');
SELECT mvcc_create_index('x', 'nosuch', 'owner');
SELECT mvcc_create_index('x', 'accounts', 'nosuch');
SELECT mvcc_create_index('x', 'accounts', 'lower(owner)');
SELECT mvcc_create_index('x', 'accounts', 'owner) WHERE (balance > 0');
SELECT mvcc_create_index('x', 'accounts', 'owner; DROP TABLE accounts');
SELECT mvcc_create_index('x', 'accounts', 'owner', 'uniq');
SELECT mvcc_create_index('sqlite_x', 'accounts', 'owner');
SELECT mvcc_create_index('', 'accounts', 'owner');
SELECT mvcc_drop_index('nosuch');
CREATE VIRTUAL TABLE temp.by_owner USING mvcc(k PRIMARY KEY);
BEGIN;
INSERT INTO accounts VALUES (11, 'gus', 0, NULL);
SELECT mvcc_create_index('later', 'accounts', 'balance');
SELECT mvcc_drop_index('by_owner');
COMMIT;
-- Another connection uses the index with nothing to declare.
.connection 1
.open test.db
.load ./build/mvcc
EXPLAIN QUERY PLAN SELECT id FROM accounts WHERE owner = 'dan';
SELECT id FROM accounts WHERE owner = 'dan';
.connection 0
-- Drop: plans stop using it.
SELECT mvcc_drop_index('one_tag');
EXPLAIN QUERY PLAN SELECT id FROM accounts WHERE tag = 'c';
INSERT INTO accounts VALUES (12, 'hal', 0, 'c');
SELECT count(*) FROM accounts WHERE tag = 'c';
-- RENAME keeps indexes.
ALTER TABLE accounts RENAME TO acc;
SELECT "table", "index" FROM mvcc_indexes ORDER BY "index";
SELECT id FROM acc WHERE owner = 'ann';
SELECT mvcc_check('acc');
