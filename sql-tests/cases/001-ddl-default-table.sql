-- A table with no column definitions is (key PRIMARY KEY, value); any type
-- may be a key or a value, and both keep their exact types.
.mode list
.headers off
CREATE VIRTUAL TABLE temp.kv USING mvcc;
SELECT name, type, pk FROM pragma_table_info('kv') ORDER BY cid;
INSERT INTO kv VALUES (1, 'one'), ('two', 2), (x'03', 3.5), (4.5, NULL);
SELECT typeof(key), quote(key), typeof(value), quote(value) FROM kv;
SELECT value FROM kv WHERE key = 'two';
