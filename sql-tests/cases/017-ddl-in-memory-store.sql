-- Connections whose main database is in memory share one in-memory store
-- per process: a table one of them creates is declared in the others when
-- they load the extension, and they see each other's commits.
.mode list
.headers off
.open :memory:
.load ./build/mvcc
CREATE VIRTUAL TABLE temp.m USING mvcc(id INTEGER PRIMARY KEY, v);
INSERT INTO m VALUES (1, 'one');
SELECT store FROM mvcc_stats WHERE name = 'commits';
.connection 1
.open :memory:
.load ./build/mvcc
.mode list
.headers off
SELECT * FROM m;
INSERT INTO m VALUES (2, 'two');
.connection 0
SELECT * FROM m;
