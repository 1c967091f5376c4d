-- Options: store='DIR' keeps the table in another store (its own catalog);
-- synchronous is store-wide: set once, a different value is refused.
.mode list
CREATE VIRTUAL TABLE temp.a USING mvcc(k PRIMARY KEY, v, store='other-store', synchronous=normal);
INSERT INTO a VALUES (1, 'in other');
SELECT * FROM a;
CREATE VIRTUAL TABLE temp.b USING mvcc(k PRIMARY KEY, v, store='other-store', synchronous=full);
CREATE VIRTUAL TABLE temp.c USING mvcc(k PRIMARY KEY, v, store='other-store', synchronous=NORMAL);
CREATE VIRTUAL TABLE temp.d USING mvcc(k PRIMARY KEY, v, synchronous=off);
SELECT count(*) FROM mvcc_stats WHERE store LIKE '%other-store' AND name = 'commits';
