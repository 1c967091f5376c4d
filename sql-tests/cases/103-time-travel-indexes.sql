-- Time travel and secondary indexes: an index created with
-- mvcc_create_index after T has no entries for the rows that were there at
-- T (its build writes them at its own commit), so a time-travel
-- transaction's plans leave it out and read the table; one built before T,
-- and the definition's UNIQUE indexes, serve it as usual and give T's rows.
.mode list
.headers off
CREATE VIRTUAL TABLE temp.p USING mvcc(id INTEGER PRIMARY KEY, color TEXT, n INTEGER UNIQUE);
INSERT INTO p VALUES (1, 'red', 10), (2, 'blue', 20), (3, 'red', 30);
SELECT mvcc_create_index('p_n_desc', 'p', 'n DESC');
CREATE TABLE marks(ts TEXT);
INSERT INTO marks VALUES (mvcc_commit_ts());
SELECT mvcc_create_index('p_color', 'p', 'color');
INSERT INTO p VALUES (4, 'red', 40);
UPDATE p SET color = 'red' WHERE id = 2;
SELECT group_concat(id) FROM p WHERE color = 'red';
BEGIN;
SELECT mvcc_as_of((SELECT ts FROM marks)) IS NOT NULL;
SELECT group_concat(id) FROM p WHERE color = 'red';
EXPLAIN QUERY PLAN SELECT id FROM p WHERE color = 'red';
SELECT group_concat(id) FROM (SELECT id FROM p WHERE n > 15 ORDER BY n DESC);
EXPLAIN QUERY PLAN SELECT id FROM p WHERE n > 15 ORDER BY n DESC;
SELECT id FROM p WHERE n = 30;
SELECT count(*) FROM p WHERE n = 40;
COMMIT;
-- Outside time travel the new index serves again.
EXPLAIN QUERY PLAN SELECT id FROM p WHERE color = 'red';
