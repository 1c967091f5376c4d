-- mvcc_history('t', key...) is one row's history: the key's values in key
-- order, compared as = compares them (affinity, collation); fewer values
-- than key columns select every row with that key prefix.  The JSON of a
-- row takes apart with SQLite's operators; a BLOB is uppercase hex, a
-- real keeps its decimal point, Inf is 9e999.
.mode list
.headers on
CREATE VIRTUAL TABLE temp.acc USING mvcc(id INTEGER PRIMARY KEY, owner TEXT, balance INTEGER, photo BLOB, rate REAL);
INSERT INTO acc VALUES (1, 'ann', 100, x'00FF10', 1.5), (2, 'bob', 50, NULL, 2);
UPDATE acc SET balance = balance + 25 WHERE id = 1;
UPDATE acc SET balance = balance * 2, rate = 1e300 * 1e300 WHERE id = 1;
UPDATE acc SET owner = 'bo"b' || char(10) WHERE id = 2;
SELECT op, row ->> 'balance' AS balance FROM mvcc_history('acc', 1);
SELECT op, key, row FROM mvcc_history('acc', '2');
SELECT row ->> 'photo' = hex(x'00FF10') AS blob_is_hex, row ->> 'rate' AS rate,
       typeof(row ->> 'rate') AS type
  FROM mvcc_history('acc', 1) LIMIT 1;
SELECT json_extract(row, '$.rate') > 1e308 AS inf FROM mvcc_history('acc', 1) WHERE op = 'update' AND row ->> 'balance' = 250;
SELECT row ->> 'owner' = 'bo"b' || char(10) AS text_round_trips FROM mvcc_history('acc', 2) WHERE op = 'update';
SELECT count(*) AS none FROM mvcc_history('acc', 3);
-- A composite key: all values, or a prefix; NOCASE and DESC as declared.
CREATE VIRTUAL TABLE temp.stock USING mvcc(shop TEXT COLLATE NOCASE, item INTEGER, qty, PRIMARY KEY(shop, item DESC));
INSERT INTO stock VALUES ('North', 1, 10), ('North', 2, 20), ('South', 1, 5);
UPDATE stock SET qty = qty - 1 WHERE shop = 'north';
DELETE FROM stock WHERE shop = 'South';
SELECT op, key, row ->> 'qty' AS qty FROM mvcc_history('stock', 'NORTH', 2);
SELECT op, key, row ->> 'qty' AS qty FROM mvcc_history('stock', 'north');
SELECT op, key, row FROM mvcc_history('stock', 'south', 1.0);
-- Joined with the table: each row's balance over time.
SELECT a.id, group_concat(h.row ->> 'balance', ' -> ') AS balances
  FROM acc a, mvcc_history('acc', a.id) h GROUP BY a.id;
-- Keys of other types: a BLOB key is hex in the JSON, a REAL key a number;
-- an integer argument finds the REAL key 2.0 as = does.
CREATE VIRTUAL TABLE temp.bk USING mvcc(k BLOB PRIMARY KEY, v);
INSERT INTO bk VALUES (x'CAFE', 1), (x'00', 2);
SELECT op, key FROM mvcc_history('bk', x'cafe');
CREATE VIRTUAL TABLE temp.rk USING mvcc(k REAL PRIMARY KEY, v);
INSERT INTO rk VALUES (2, 'two'), (2.5, 'two and a half');
SELECT op, key, row FROM mvcc_history('rk', 2);
