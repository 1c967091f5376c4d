-- Another process reads a live store: while this shell writes the default
-- store, a second sqlite3 shell on the same database (started with
-- .system) declares its tables and reads them; each of its transactions
-- sees every commit this one made before it began.  DDL and the index
-- functions are refused there, naming the writer (PID here), and change
-- nothing; so is a backup (only the writer can take one); the history
-- reads as anywhere.  (DROP TABLE's error has SQLite's wording only: SQLite does not
-- pass on a virtual table's message from xDestroy.)  The second session (.sql2) runs after this process has ended:
-- it writes the store again.
.mode list
.headers off
CREATE VIRTUAL TABLE temp.accounts USING mvcc(id INTEGER PRIMARY KEY, owner TEXT, balance INTEGER);
INSERT INTO accounts VALUES (1, 'ann', 100), (2, 'bob', 50);
SELECT mvcc_create_index('accounts_owner', 'accounts', 'owner');
SELECT writefile('reader.sql', '.mode list
.headers off
SELECT id, owner, balance FROM accounts ORDER BY id;
BEGIN;
SELECT sum(balance) FROM accounts;
SELECT balance FROM accounts WHERE owner = ''bob'';
COMMIT;
SELECT mvcc_create_index(''accounts_balance'', ''accounts'', ''balance'');
SELECT mvcc_drop_index(''accounts_owner'');
DROP TABLE accounts;
ALTER TABLE accounts RENAME TO accounts2;
SELECT name FROM sqlite_temp_master WHERE name LIKE ''accounts%'' ORDER BY name;
SELECT name, value > 0 FROM mvcc_stats WHERE name IN (''reader'', ''writer_pid'');
SELECT op, key, row ->> ''balance'' FROM mvcc_history(''accounts'') ORDER BY ts;
SELECT mvcc_backup(''copy'');
') > 0;
.system sqlite3 -batch -cmd '.load ./build/mvcc' test.db < reader.sql 2>&1 | sed 's/process [0-9]*/process PID/'
BEGIN;
UPDATE accounts SET balance = balance - 30 WHERE id = 1;
UPDATE accounts SET balance = balance + 30 WHERE id = 2;
COMMIT;
.system sqlite3 -batch -cmd '.load ./build/mvcc' test.db < reader.sql 2>&1 | sed 's/process [0-9]*/process PID/'
SELECT "index" FROM mvcc_indexes ORDER BY 1;
SELECT name, value FROM mvcc_stats WHERE name IN ('reader', 'writer_pid');
