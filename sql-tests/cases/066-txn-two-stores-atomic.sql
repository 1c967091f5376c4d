-- A transaction that writes tables of two stores fails as a whole: here its
-- read of t (default store) is invalidated by another connection, so its
-- COMMIT fails with a refresh failure, and its write to o (store 'other')
-- must not be visible either.  A transaction over both that can commit
-- commits both.
.mode list
.headers off
CREATE VIRTUAL TABLE temp.t USING mvcc(id INTEGER PRIMARY KEY, v);
CREATE VIRTUAL TABLE temp.o USING mvcc(id INTEGER PRIMARY KEY, v, store='other');
INSERT INTO t VALUES (1, 'orig');
.connection 1
.open test.db
.load ./build/mvcc
.mode list
.headers off
SELECT mvcc_attach('other') > 0;
.connection 0
BEGIN;
SELECT * FROM t WHERE id = 1;
INSERT INTO o VALUES (1, 'write to the other store');
.connection 1
UPDATE t SET v = 'changed' WHERE id = 1;
SELECT count(*) FROM t WHERE id = 5;
.connection 0
INSERT INTO t VALUES (5, 'x');
COMMIT;
.connection 1
SELECT 'o', count(*) FROM o;
SELECT 't', count(*) FROM t WHERE id = 5;
.connection 0
BEGIN;
INSERT INTO o VALUES (2, 'both');
INSERT INTO t VALUES (6, 'both');
COMMIT;
.connection 1
SELECT * FROM o;
SELECT * FROM t ORDER BY id;
