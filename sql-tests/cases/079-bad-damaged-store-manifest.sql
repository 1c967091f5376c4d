-- A default store whose MANIFEST is gone (CURRENT names a file that is not
-- there): loading the extension fails naming the missing file; the store
-- is left as it was (still no MANIFEST: no new, empty store over it);
-- native tables keep working.
.mode list
.headers off
CREATE VIRTUAL TABLE temp.t USING mvcc(k PRIMARY KEY, v);
INSERT INTO t VALUES (1, 'one');
CREATE TABLE nat(x);
INSERT INTO nat VALUES (42);
.open other.db
.system rm test.db-mvcc/MANIFEST-*
.open test.db
.load ./build/mvcc
SELECT * FROM nat;
SELECT * FROM t;
.system ls test.db-mvcc | grep -c MANIFEST || true
