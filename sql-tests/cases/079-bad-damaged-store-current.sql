-- A default store whose CURRENT file is gone (RocksDB's pointer to its
-- MANIFEST): loading the extension fails with a clear message naming the
-- damage, instead of loading with the store's tables silently missing;
-- nothing is written into the store (no new, empty store over it); native
-- tables keep working.  (The first connection is closed by .open before
-- the damage, so no process has the store open.)
.mode list
.headers off
CREATE VIRTUAL TABLE temp.t USING mvcc(k PRIMARY KEY, v);
INSERT INTO t VALUES (1, 'one');
CREATE TABLE nat(x);
INSERT INTO nat VALUES (42);
.open other.db
.system rm test.db-mvcc/CURRENT
.open test.db
.load ./build/mvcc
SELECT * FROM nat;
SELECT * FROM t;
SELECT mvcc_attach();
.system ls test.db-mvcc | grep -c CURRENT || true
