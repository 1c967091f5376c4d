-- The store option retention='<n> <unit>' (seconds, minutes, hours, days,
-- singular or plural; default 24 hours) sets how far back mvcc_as_of
-- reaches.  It is store-wide like synchronous: set once, the same window in
-- other units is accepted, a different one refused; other stores keep
-- their own.  Bad values are errors that leave the tables intact.  A time
-- older than the window is refused with a message that names it; the
-- window is kept across a restart (.sql2).
.mode list
.headers off
CREATE VIRTUAL TABLE temp.a USING mvcc(k PRIMARY KEY, v, retention='2 Hours');
INSERT INTO a VALUES (1, 'kept');
CREATE VIRTUAL TABLE temp.b USING mvcc(k PRIMARY KEY, v, retention=' 120 minutes ');
CREATE VIRTUAL TABLE temp.c USING mvcc(k PRIMARY KEY, v, retention='7200 seconds');
CREATE VIRTUAL TABLE temp.d USING mvcc(k PRIMARY KEY, v);
CREATE VIRTUAL TABLE temp.e USING mvcc(k PRIMARY KEY, v, retention='1 hour');
CREATE VIRTUAL TABLE temp.f USING mvcc(k PRIMARY KEY, v, retention='1 day', store='other');
CREATE VIRTUAL TABLE temp.g USING mvcc(k PRIMARY KEY, v, retention='1 second', store='short');
CREATE VIRTUAL TABLE temp.h USING mvcc(k PRIMARY KEY, v, retention='3 days', store='short');
-- Bad values.
CREATE VIRTUAL TABLE temp.x1 USING mvcc(k PRIMARY KEY, retention=5);
CREATE VIRTUAL TABLE temp.x2 USING mvcc(k PRIMARY KEY, retention='0 seconds');
CREATE VIRTUAL TABLE temp.x3 USING mvcc(k PRIMARY KEY, retention='five days');
CREATE VIRTUAL TABLE temp.x4 USING mvcc(k PRIMARY KEY, retention='3 weeks');
CREATE VIRTUAL TABLE temp.x5 USING mvcc(k PRIMARY KEY, retention='2 hours ago');
CREATE VIRTUAL TABLE temp.x6 USING mvcc(k PRIMARY KEY, retention='-1 days');
CREATE VIRTUAL TABLE temp.x7 USING mvcc(k PRIMARY KEY, retention='1.5 hours');
CREATE VIRTUAL TABLE temp.x8 USING mvcc(k PRIMARY KEY, retention='36501 days');
CREATE VIRTUAL TABLE temp.x9 USING mvcc(k PRIMARY KEY, retention='');
CREATE VIRTUAL TABLE temp.x10 USING mvcc(k PRIMARY KEY, retention='2 hours', retention='2 hours');
SELECT name FROM sqlite_temp_master WHERE type = 'table' ORDER BY name;
SELECT * FROM a;
-- Time travel within the window works, beyond it is refused by name.  Each
-- store has its own: mvcc_as_of checks the default store's, and each store
-- is checked when the transaction first reads it.
BEGIN;
SELECT mvcc_as_of('-119 minutes') IS NOT NULL;
SELECT * FROM a;
COMMIT;
BEGIN;
SELECT mvcc_as_of('-121 minutes');
ROLLBACK;
INSERT INTO g VALUES (1, 'short');
BEGIN;
SELECT mvcc_as_of('-10 seconds') IS NOT NULL;
SELECT * FROM a;
SELECT * FROM g;
ROLLBACK;
BEGIN;
SELECT mvcc_as_of('+0.5 seconds') IS NOT NULL;
SELECT * FROM g;
ROLLBACK;
SELECT value GLOB '2*' FROM mvcc_stats WHERE name = 'oldest_readable_ts' AND store LIKE '%short';
