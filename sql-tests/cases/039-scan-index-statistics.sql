-- Statistics: an index build counts the table's rows and the distinct
-- values of the new index (mvcc_analyze counts them for every index), and
-- plans pick the index that selects fewer rows, or a full scan when an
-- index would fetch most of the table.  A query that uses only an index's
-- and the key's columns reads the index alone (covering).
.mode list
CREATE VIRTUAL TABLE temp.o USING mvcc(id INTEGER PRIMARY KEY, status TEXT, owner TEXT, flag INT);
WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i < 9999)
INSERT INTO o SELECT i, 's' || (i % 3), 'u' || (i % 2000), i % 2 FROM c;
SELECT mvcc_create_index('o_status', 'o', 'status');
SELECT mvcc_create_index('o_owner', 'o', 'owner');
SELECT mvcc_create_index('o_flag', 'o', 'flag');
-- owner (2000 values) selects fewer rows than status (3), in either order.
EXPLAIN QUERY PLAN SELECT * FROM o WHERE status = 's1' AND owner = 'u7';
EXPLAIN QUERY PLAN SELECT * FROM o WHERE owner = 'u7' AND status = 's1';
SELECT count(*) FROM o WHERE status = 's1' AND owner = 'u7';
-- flag (2 values) would fetch half the table: a full scan is cheaper;
-- but counting needs no row, only the index's entries (covering).
EXPLAIN QUERY PLAN SELECT * FROM o WHERE flag = 1;
EXPLAIN QUERY PLAN SELECT count(*) FROM o WHERE flag = 1;
SELECT count(*) FROM o WHERE flag = 1;
-- The data changes: status becomes nearly unique; mvcc_analyze sees it.
UPDATE o SET status = 'x' || id;
SELECT mvcc_analyze('o');
EXPLAIN QUERY PLAN SELECT * FROM o WHERE status = 'x7' AND owner = 'u7';
SELECT id FROM o WHERE status = 'x7' AND owner = 'u7';
-- Writes keep the statistics without mvcc_analyze: 20000 new rows, each
-- with its own owner and all with one status, make owner the more
-- selective index again (the row count follows commits; each connection
-- sketches the values it writes and merges them every 4096 rows).
EXPLAIN QUERY PLAN SELECT * FROM o WHERE status = 's1' AND owner = 'n5';
WITH RECURSIVE c(i) AS (SELECT 10000 UNION ALL SELECT i + 1 FROM c WHERE i < 29999)
INSERT INTO o SELECT i, 's1', 'n' || i, 0 FROM c;
EXPLAIN QUERY PLAN SELECT * FROM o WHERE status = 's1' AND owner = 'n5';
SELECT mvcc_analyze('nosuch');
SELECT mvcc_check('o');
