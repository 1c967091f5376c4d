-- Options: store='DIR' keeps the table in another store (its own catalog);
-- synchronous is store-wide: set once, a different value is refused.
.mode list
.headers off
CREATE VIRTUAL TABLE temp.a USING mvcc(k PRIMARY KEY, v, store='other-store', synchronous=normal);
INSERT INTO a VALUES (1, 'in other');
SELECT * FROM a;
CREATE VIRTUAL TABLE temp.b USING mvcc(k PRIMARY KEY, v, store='other-store', synchronous=full);
CREATE VIRTUAL TABLE temp.c USING mvcc(k PRIMARY KEY, v, store='other-store', synchronous=NORMAL);
CREATE VIRTUAL TABLE temp.d USING mvcc(k PRIMARY KEY, v, synchronous=off);
SELECT count(*) FROM mvcc_stats WHERE store LIKE '%other-store' AND name = 'commits';
CREATE VIRTUAL TABLE temp.e USING mvcc(k PRIMARY KEY, v, store='full-store', synchronous=full);
INSERT INTO e VALUES (1, 'durable');
CREATE VIRTUAL TABLE temp.f USING mvcc(k PRIMARY KEY, v, store='full-store', synchronous=FULL);
CREATE VIRTUAL TABLE temp.g USING mvcc(k PRIMARY KEY, v, store='full-store');
SELECT * FROM e;
