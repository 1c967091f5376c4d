-- A damaged table file (SST) of the default store: a block in the middle
-- of the file, holding rows of t, overwritten.  The store opens (RocksDB
-- checks a data block's checksum as it reads it); every read that meets
-- the block fails with SQLITE_CORRUPT (11) and RocksDB's "block checksum
-- mismatch" naming the file, and returns no wrong row; reads of intact
-- blocks work.  The reads run in a second process, through sed: the
-- checksums, offsets and file number in the message vary from run to run.
.mode list
.headers off
CREATE VIRTUAL TABLE temp.t USING mvcc(k INTEGER PRIMARY KEY, v);
INSERT INTO t SELECT value, randomblob(200) FROM generate_series(1, 2000);
-- Dropping a table flushes the store's memtable into a table file.
CREATE VIRTUAL TABLE temp.x USING mvcc;
DROP TABLE x;
CREATE TABLE nat(x);
INSERT INTO nat VALUES (42);
SELECT writefile('second.sql', '.mode list
.headers off
SELECT k, length(v) FROM t WHERE k = 1;
SELECT count(*) FROM t WHERE k <= 50;
SELECT count(*) FROM t;
SELECT count(*) FROM t WHERE k BETWEEN 990 AND 1010;
SELECT * FROM nat;
') > 0;
.open other.db
-- (dd overwrites; without make asan's LD_PRELOAD, which dd trips over.)
.system unset LD_PRELOAD; for f in test.db-mvcc/*.sst; do s=$(stat -c %s $f); printf 'ZZZZZZZZZZZZZZZZ' | dd of=$f bs=1 seek=$((s / 2)) conv=notrunc 2>/dev/null; done
.system sqlite3 -batch -cmd '.load ./build/mvcc' test.db < second.sql 2>&1 | sed -e 's/stored = [0-9]*, computed = [0-9]*/stored = N, computed = N/' -e 's/offset [0-9]* size [0-9]*/offset N size N/' -e 's/[0-9]*\.sst/NNNNNN.sst/' > second.out; true
SELECT CAST(readfile('second.out') AS TEXT);
