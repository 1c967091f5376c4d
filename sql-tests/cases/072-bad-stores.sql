-- Store directories that cannot be used: missing in a place that cannot be
-- created, a file, a directory holding something else.  The default store
-- and its tables are unharmed.
.mode list
CREATE VIRTUAL TABLE temp.ok USING mvcc(k PRIMARY KEY, v);
INSERT INTO ok VALUES (1, 'safe');
CREATE VIRTUAL TABLE temp.t1 USING mvcc(k PRIMARY KEY, store='/dev/null/store');
CREATE VIRTUAL TABLE temp.t2 USING mvcc(k PRIMARY KEY, store='/etc/hostname');
CREATE VIRTUAL TABLE temp.t3 USING mvcc(k PRIMARY KEY, store='/usr/share/doc');
SELECT mvcc_attach('/nonexistent-dir/sub');
SELECT * FROM ok;
