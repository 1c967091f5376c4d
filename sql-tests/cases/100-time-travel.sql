-- Time travel: inside BEGIN, SELECT mvcc_as_of(T) before the transaction
-- touches an mvcc table makes it read every table as of T (here the
-- connection's own mvcc_commit_ts values, kept in a native table); the
-- transaction is read-only (writes fail, the transaction goes on), a second
-- call before the first read replaces the first, and the request ends with
-- the transaction.  Bad uses and bad T each get their own message.
.mode list
.headers off
CREATE VIRTUAL TABLE temp.checking USING mvcc(id INTEGER PRIMARY KEY, balance INTEGER);
CREATE VIRTUAL TABLE temp.savings USING mvcc(id INTEGER PRIMARY KEY, balance INTEGER);
CREATE TABLE marks(step INTEGER PRIMARY KEY, ts TEXT);
INSERT INTO checking VALUES (1, 100), (2, 100);
INSERT INTO marks VALUES (1, mvcc_commit_ts());
INSERT INTO savings VALUES (1, 500);
INSERT INTO marks VALUES (2, mvcc_commit_ts());
BEGIN;
UPDATE checking SET balance = balance - 40 WHERE id = 1;
UPDATE savings SET balance = balance + 40 WHERE id = 1;
COMMIT;
INSERT INTO marks VALUES (3, mvcc_commit_ts());
DELETE FROM checking WHERE id = 2;
INSERT INTO marks VALUES (4, mvcc_commit_ts());
SELECT count(DISTINCT ts), min(ts < lead) FROM (SELECT ts, lead(ts) OVER (ORDER BY step) AS lead FROM marks);
-- Each step as of its commit: both tables at once.
BEGIN;
SELECT mvcc_as_of((SELECT ts FROM marks WHERE step = 1)) = (SELECT ts FROM marks WHERE step = 1);
SELECT (SELECT group_concat(id || ':' || balance) FROM checking), (SELECT count(*) FROM savings);
COMMIT;
BEGIN;
SELECT mvcc_as_of((SELECT ts FROM marks WHERE step = 2)) IS NOT NULL;
SELECT (SELECT group_concat(id || ':' || balance) FROM checking), (SELECT group_concat(id || ':' || balance) FROM savings);
COMMIT;
BEGIN;
SELECT mvcc_as_of((SELECT ts FROM marks WHERE step = 3)) IS NOT NULL;
SELECT (SELECT group_concat(id || ':' || balance) FROM checking), (SELECT group_concat(id || ':' || balance) FROM savings);
SELECT (SELECT sum(balance) FROM checking) + (SELECT sum(balance) FROM savings);
COMMIT;
BEGIN;
SELECT mvcc_as_of((SELECT ts FROM marks WHERE step = 4)) IS NOT NULL;
SELECT group_concat(id || ':' || balance) FROM checking;
-- Read-only: every kind of write is refused, the transaction goes on.
INSERT INTO checking VALUES (9, 9);
UPDATE checking SET balance = 0;
DELETE FROM savings;
SELECT group_concat(id || ':' || balance) FROM checking;
SELECT mvcc_as_of() = (SELECT ts FROM marks WHERE step = 4);
COMMIT;
SELECT mvcc_as_of() IS NULL;
-- Now, outside time travel: the writes above did nothing.
SELECT (SELECT group_concat(id || ':' || balance) FROM checking), (SELECT group_concat(id || ':' || balance) FROM savings);
-- A second call before the first read replaces the first; ROLLBACK ends it.
BEGIN;
SELECT mvcc_as_of((SELECT ts FROM marks WHERE step = 4)) IS NOT NULL;
SELECT mvcc_as_of((SELECT ts FROM marks WHERE step = 1)) IS NOT NULL;
SELECT group_concat(id || ':' || balance) FROM checking;
SELECT mvcc_as_of((SELECT ts FROM marks WHERE step = 4));
ROLLBACK;
BEGIN;
SELECT group_concat(id || ':' || balance) FROM checking;
INSERT INTO checking VALUES (3, 1);
COMMIT;
-- A date-time, a modifier relative to now, a time before the tables existed.
BEGIN;
SELECT mvcc_as_of(strftime('%Y-%m-%d %H:%M:%f', 'now', '+0.3 seconds')) IS NOT NULL;
SELECT count(*) FROM checking;
COMMIT;
BEGIN;
SELECT mvcc_as_of('-1 hours') IS NOT NULL;
SELECT count(*) FROM checking;
COMMIT;
BEGIN;
-- Fractional seconds to the nanosecond (SQLite's own reading rounds them to
-- the millisecond, which would carry .9999999 into the next second).
SELECT substr(mvcc_as_of(strftime('%Y-%m-%d %H:%M:%S', 'now', '-1 minutes') || '.9999999'), 20);
SELECT substr(mvcc_as_of(strftime('%Y-%m-%dT%H:%M:%S', 'now', '-1 minutes') || '.5Z'), 20);
SELECT substr(mvcc_as_of(strftime('%Y-%m-%d %H:%M:%S', 'now', '-1 minutes') || '.000000001'), 20);
ROLLBACK;
-- Errors.
SELECT mvcc_as_of('-1 seconds');
BEGIN;
SELECT count(*) FROM checking;
SELECT mvcc_as_of('-1 seconds');
ROLLBACK;
BEGIN;
INSERT INTO checking VALUES (4, 1);
SELECT mvcc_as_of('-1 seconds');
ROLLBACK;
BEGIN;
SELECT mvcc_as_of('yesterday');
SELECT mvcc_as_of(12);
SELECT mvcc_as_of(NULL);
SELECT mvcc_as_of('1969-12-31 23:59:59');
SELECT mvcc_as_of('2026-12-07 12:00:00.500000000.0000000000');
SELECT mvcc_as_of('1971-01-01 00:00:00');
SELECT mvcc_as_of('-2 days');
SELECT mvcc_as_of('9000-01-01 00:00:00');
SELECT mvcc_as_of('+1 hours');
SELECT mvcc_as_of() IS NULL;
ROLLBACK;
SELECT count(*) FROM checking;
-- A time-travel transaction is not "the next transaction" of
-- mvcc_lock_reads: a retry pending before it is still pending after it.
.connection 1
.open test.db
.load ./build/mvcc
.mode list
.headers off
PRAGMA busy_timeout = 100;
.connection 0
BEGIN;
SELECT balance FROM checking WHERE id = 1;
.connection 1
UPDATE checking SET balance = balance + 1 WHERE id = 1;
.connection 0
UPDATE checking SET balance = 0 WHERE id = 1;
ROLLBACK;
SELECT mvcc_lock_reads();
BEGIN;
SELECT mvcc_as_of((SELECT ts FROM marks WHERE step = 1)) IS NOT NULL;
SELECT balance FROM checking WHERE id = 1;
COMMIT;
SELECT mvcc_lock_reads();
