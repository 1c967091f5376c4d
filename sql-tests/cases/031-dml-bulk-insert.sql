-- A bulk INSERT of ascending keys answers most of its uniqueness checks
-- from a range it knows to be empty, and still finds every key there is:
-- committed before the load, deleted, written by the load itself.
.mode list
.headers off
CREATE VIRTUAL TABLE temp.g USING mvcc(k INTEGER PRIMARY KEY, v);
INSERT INTO g VALUES (500, 'old'), (900, 'gone');
DELETE FROM g WHERE k = 900;
BEGIN;
INSERT INTO g WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 499) SELECT x, 'new' FROM c;
INSERT INTO g VALUES (500, 'dup');
INSERT INTO g VALUES (250, 'dup');
INSERT INTO g WITH RECURSIVE c(x) AS (SELECT 501 UNION ALL SELECT x + 1 FROM c WHERE x < 800) SELECT x, 'abort' FROM c UNION ALL SELECT 500, 'dup';
INSERT OR IGNORE INTO g WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000) SELECT x, 'late' FROM c;
COMMIT;
SELECT count(*), sum(v = 'old'), sum(v = 'new'), sum(v = 'late'), min(k), max(k) FROM g;
SELECT k, v FROM g WHERE k IN (250, 500, 501, 900);
SELECT value > 900 FROM mvcc_stats WHERE name = 'reads_from_gap';
