-- A table declared in main (or an attached database) would make SQLite's
-- file lock serialize every writer: refused, with the reason and the fix.
.mode list
.headers off
CREATE VIRTUAL TABLE t USING mvcc;
CREATE VIRTUAL TABLE main.t USING mvcc;
ATTACH ':memory:' AS aux;
CREATE VIRTUAL TABLE aux.t USING mvcc;
CREATE VIRTUAL TABLE temp.t USING mvcc;
SELECT count(*) FROM t;
