-- A damaged table file (SST) that holds the store's catalog: the block
-- with the catalog and t's rows overwritten.  Loading the extension fails
-- with RocksDB's "block checksum mismatch" naming the file, and says what
-- it was doing; no table of the store is declared, so no row of t is
-- returned, right or wrong; native tables keep working.  The load runs in
-- a second process, through sed: the checksums, offsets and file number in
-- the message vary from run to run.
.mode list
.headers off
CREATE VIRTUAL TABLE temp.t USING mvcc(k INTEGER PRIMARY KEY, v);
INSERT INTO t VALUES (1, 'one'), (2, 'two');
-- Dropping a table flushes the store's memtable into a table file.
CREATE VIRTUAL TABLE temp.x USING mvcc;
DROP TABLE x;
CREATE TABLE nat(x);
INSERT INTO nat VALUES (42);
SELECT writefile('second.sql', '.mode list
.headers off
SELECT * FROM t;
SELECT * FROM nat;
') > 0;
.open other.db
-- (dd overwrites; without make asan's LD_PRELOAD, which dd trips over.)
.system unset LD_PRELOAD; for f in test.db-mvcc/*.sst; do printf 'ZZZZZZZZZZZZZZZZ' | dd of=$f bs=1 seek=40 conv=notrunc 2>/dev/null; done
.system sqlite3 -batch -cmd '.load ./build/mvcc' test.db < second.sql 2>&1 | sed -e 's/stored = [0-9]*, computed = [0-9]*/stored = N, computed = N/' -e 's/offset [0-9]* size [0-9]*/offset N size N/' -e 's/[0-9]*\.sst/NNNNNN.sst/' > second.out; true
SELECT CAST(readfile('second.out') AS TEXT);
