-- TEXT keys under BINARY, NOCASE and RTRIM order like native tables with the
-- same collation.
.mode list
.headers off
CREATE VIRTUAL TABLE temp.b USING mvcc(k TEXT PRIMARY KEY, v);
CREATE VIRTUAL TABLE temp.n USING mvcc(k TEXT COLLATE NOCASE PRIMARY KEY, v);
CREATE VIRTUAL TABLE temp.r USING mvcc(k TEXT COLLATE RTRIM PRIMARY KEY, v);
CREATE TABLE nb(k TEXT PRIMARY KEY, v) WITHOUT ROWID;
CREATE TABLE nn(k TEXT COLLATE NOCASE PRIMARY KEY, v) WITHOUT ROWID;
CREATE TABLE nr(k TEXT COLLATE RTRIM PRIMARY KEY, v) WITHOUT ROWID;
CREATE TABLE src(k, v);
INSERT INTO src VALUES ('apple', 'a'), ('Banana', 'b'), ('_x', 'c'), ('Zed', 'd'), ('zebra', 'e'), ('@at', 'f'),
  ('a b', 'g'), ('ab ', 'h'), ('é', 'i'), ('Ä', 'j'), ('', 'k'), ('A', 'l');
INSERT INTO b SELECT * FROM src; INSERT INTO nb SELECT * FROM src;
INSERT INTO n SELECT * FROM src; INSERT INTO nn SELECT * FROM src;
INSERT INTO r SELECT * FROM src; INSERT INTO nr SELECT * FROM src;
SELECT 'binary', (SELECT group_concat(v, '') FROM b), (SELECT group_concat(v, '') FROM nb);
SELECT 'nocase', (SELECT group_concat(v, '') FROM n), (SELECT group_concat(v, '') FROM nn);
SELECT 'rtrim', (SELECT group_concat(v, '') FROM r), (SELECT group_concat(v, '') FROM nr);
SELECT 'nocase range', (SELECT group_concat(v, '') FROM n WHERE k BETWEEN 'B' AND 'zebra'), (SELECT group_concat(v, '') FROM nn WHERE k BETWEEN 'B' AND 'zebra');
SELECT 'nocase eq', (SELECT v FROM n WHERE k = 'BANANA'), (SELECT v FROM nn WHERE k = 'BANANA');
SELECT 'rtrim eq', (SELECT v FROM r WHERE k = 'ab'), (SELECT v FROM nr WHERE k = 'ab');
