-- A healthy store reports no write failure: mvcc_stats' write_error is ''
-- (the failure writes are refused with until the store recovers) and the
-- failure counters are 0.  Full disks and I/O errors themselves are in
-- test_diskfull.c and unit-tests/test_fault.c.
.mode list
.headers off
CREATE VIRTUAL TABLE temp.t USING mvcc(id INTEGER PRIMARY KEY, n);
INSERT INTO t VALUES (1, 1);
SELECT name, quote(value) FROM mvcc_stats
 WHERE name IN ('write_failures', 'write_recoveries', 'background_errors',
                'write_error')
 ORDER BY name;
