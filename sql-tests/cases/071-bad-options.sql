-- Unknown options and bad option values are errors, not ignored.
.mode list
CREATE VIRTUAL TABLE temp.t1 USING mvcc(k PRIMARY KEY, cache=10);
CREATE VIRTUAL TABLE temp.t2 USING mvcc(k PRIMARY KEY, synchronous=sometimes);
CREATE VIRTUAL TABLE temp.t3 USING mvcc(k PRIMARY KEY, store='');
CREATE VIRTUAL TABLE temp.t4 USING mvcc(k PRIMARY KEY, store='a', store='b');
CREATE VIRTUAL TABLE temp.t5 USING mvcc(k PRIMARY KEY, synchronous=off);
CREATE VIRTUAL TABLE temp.t6 USING mvcc(k PRIMARY KEY, synchronous=full);
SELECT count(*) FROM sqlite_temp_master WHERE name LIKE 't%';
