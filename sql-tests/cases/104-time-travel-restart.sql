-- Time travel across a restart: the commit timestamps recorded in a native
-- table in the first session still name the same snapshots after the store
-- is reopened (.sql2); mvcc_commit_ts() is per connection and starts NULL.
.mode list
.headers off
CREATE VIRTUAL TABLE temp.kv USING mvcc(k TEXT PRIMARY KEY, v INTEGER);
CREATE TABLE marks(step INTEGER PRIMARY KEY, ts TEXT);
INSERT INTO kv VALUES ('a', 1), ('b', 2);
INSERT INTO marks VALUES (1, mvcc_commit_ts());
UPDATE kv SET v = v * 10;
INSERT INTO marks VALUES (2, mvcc_commit_ts());
DELETE FROM kv WHERE k = 'a';
INSERT INTO kv VALUES ('c', 3);
INSERT INTO marks VALUES (3, mvcc_commit_ts());
SELECT group_concat(k || v) FROM kv;
