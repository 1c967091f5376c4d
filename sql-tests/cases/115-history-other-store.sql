-- mvcc_history reads the tables of every store the connection uses: one
-- kept in another store (store=) has its history too, and a change feed
-- over it; a name in no store is still "no such table".
.mode list
CREATE VIRTUAL TABLE temp.here USING mvcc(id INTEGER PRIMARY KEY, v TEXT);
CREATE VIRTUAL TABLE temp.there USING mvcc(id INTEGER PRIMARY KEY, v TEXT, store='history-other-store');
INSERT INTO here VALUES (1, 'default store');
INSERT INTO there VALUES (1, 'other store');
UPDATE there SET v = 'other store, updated' WHERE id = 1;
SELECT op, key, row FROM mvcc_history('here');
SELECT op, key, row FROM mvcc_history('there');
CREATE TEMP TABLE feed AS SELECT max(ts) AS last FROM mvcc_history('there');
DELETE FROM there WHERE id = 1;
SELECT op, key FROM mvcc_history('there') WHERE ts > (SELECT last FROM feed);
SELECT * FROM mvcc_history('nowhere');
