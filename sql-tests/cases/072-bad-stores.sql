-- Store directories that cannot be used get clear errors, and the default
-- store and its rows are unharmed: missing in a place where it cannot be
-- created (under a file; under /proc, where nothing can be written), a
-- file, a directory holding something that is not a store.  (Permission
-- bits are not used for "unwritable": tests may run as root.)
.mode list
.headers off
CREATE VIRTUAL TABLE temp.ok USING mvcc(k PRIMARY KEY, v);
INSERT INTO ok VALUES (1, 'safe');
.system mkdir notastore && echo 'some data' > notastore/random.txt && echo 'a file' > afile
CREATE VIRTUAL TABLE temp.t1 USING mvcc(k PRIMARY KEY, store='/dev/null/store');
CREATE VIRTUAL TABLE temp.t2 USING mvcc(k PRIMARY KEY, store='afile/store');
CREATE VIRTUAL TABLE temp.t3 USING mvcc(k PRIMARY KEY, store='/proc/mvcc-store');
CREATE VIRTUAL TABLE temp.t4 USING mvcc(k PRIMARY KEY, store='afile');
CREATE VIRTUAL TABLE temp.t5 USING mvcc(k PRIMARY KEY, store='notastore');
SELECT mvcc_attach('notastore');
SELECT mvcc_attach('/nonexistent-dir/sub');
-- Nothing was created or changed.
.system ls notastore && cat notastore/random.txt afile
SELECT name FROM sqlite_temp_master ORDER BY name;
SELECT * FROM ok;
INSERT INTO ok VALUES (2, 'still writable');
SELECT * FROM ok;
