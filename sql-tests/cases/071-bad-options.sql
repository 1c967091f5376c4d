-- Unknown options and bad option values are errors, not ignored, and leave
-- the existing tables intact; a store-wide option may not be given two
-- different values, neither in one definition nor against the store's.
.mode list
.headers off
CREATE VIRTUAL TABLE temp.ok USING mvcc(k PRIMARY KEY, v);
INSERT INTO ok VALUES (1, 'safe');
CREATE VIRTUAL TABLE temp.t1 USING mvcc(k PRIMARY KEY, cache=10);
CREATE VIRTUAL TABLE temp.t2 USING mvcc(k PRIMARY KEY, synchronous=sometimes);
CREATE VIRTUAL TABLE temp.t3 USING mvcc(k PRIMARY KEY, store='');
CREATE VIRTUAL TABLE temp.t4 USING mvcc(k PRIMARY KEY, store='a', store='b');
CREATE VIRTUAL TABLE temp.t5 USING mvcc(k PRIMARY KEY, synchronous=off);
CREATE VIRTUAL TABLE temp.t6 USING mvcc(k PRIMARY KEY, synchronous=full);
CREATE VIRTUAL TABLE temp.t7 USING mvcc(k PRIMARY KEY, synchronous=yes);
CREATE VIRTUAL TABLE temp.t8 USING mvcc(k PRIMARY KEY, retention=5);
CREATE VIRTUAL TABLE temp.t9 USING mvcc(k PRIMARY KEY, synchronous=normal, synchronous=full, store='s9');
SELECT name FROM sqlite_temp_master WHERE name LIKE 't%' ORDER BY name;
SELECT * FROM ok;
