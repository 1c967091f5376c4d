-- SQLite computes every new row of a virtual table's multi-row UPDATE before
-- it writes any.  When OR REPLACE deletes a row that the same UPDATE then
-- updates, its new values would come from the deleted row (a native table
-- re-reads it): the statement is refused and changes nothing.
.mode list
.headers off
CREATE VIRTUAL TABLE temp.t USING mvcc(k INTEGER PRIMARY KEY, v TEXT);
INSERT INTO t VALUES (1, 'one'), (2, 'two'), (3, 'three');
UPDATE OR REPLACE t SET k = k + 1;
SELECT k, v FROM t;
BEGIN;
UPDATE OR REPLACE t SET k = k + 1;
SELECT k, v FROM t;
COMMIT;
-- OR REPLACE that deletes rows the statement does not revisit is fine.
UPDATE OR REPLACE t SET k = 3 WHERE k = 1;
SELECT changes();
SELECT k, v FROM t;
UPDATE OR REPLACE t SET k = k - 1 WHERE k >= 2;
SELECT k, v FROM t;
