-- Savepoints nest as deep as SQLite lets them (here 80 levels, each with a
-- write); rolling back to any of them undoes exactly the writes after it.
.mode list
.headers off
CREATE VIRTUAL TABLE temp.t USING mvcc(id INTEGER PRIMARY KEY);
CREATE TABLE n(id INTEGER PRIMARY KEY);
BEGIN;
SELECT writefile('sp.sql', (SELECT group_concat('SAVEPOINT s' || value || '; INSERT INTO t VALUES (' || value || '); INSERT INTO n VALUES (' || value || ');', char(10)) FROM generate_series(1, 80))) > 0;
.read sp.sql
SELECT count(*), max(id) FROM t;
ROLLBACK TO s65;
SELECT count(*), max(id) FROM t;
ROLLBACK TO s3;
RELEASE s1;
SELECT (SELECT group_concat(id) FROM t), (SELECT group_concat(id) FROM n);
COMMIT;
SELECT (SELECT group_concat(id) FROM t), (SELECT group_concat(id) FROM n);
