-- ORDER BY a column that an equality pins only under an index's coarser
-- collation: c = 'b' COLLATE NOCASE through a NOCASE index matches 'B' and
-- 'b', so the index's order does not give c's own (BINARY) order and
-- SQLite must sort; DESC is 'b', 'B' as in a native table.  Under the
-- column's own collation an equality pins one value and needs no sort.
.mode list
.headers off
CREATE VIRTUAL TABLE temp.t USING mvcc(c PRIMARY KEY, v);
INSERT INTO t VALUES ('B', 1), ('b', 2), ('x', 3), ('b  ', 4);
SELECT mvcc_create_index('ix_nocase', 't', 'c COLLATE NOCASE');
SELECT mvcc_create_index('ix_rtrim', 't', 'c COLLATE RTRIM');
SELECT c FROM t WHERE c COLLATE NOCASE = 'b' ORDER BY c DESC;
SELECT c FROM t WHERE c COLLATE NOCASE = 'b' ORDER BY c;
SELECT quote(c) FROM t WHERE c COLLATE RTRIM = 'b' ORDER BY c DESC;
SELECT c FROM t WHERE c = 'b' ORDER BY c DESC;
