-- Values of any type and size are stored exactly: empty text and blobs,
-- NULLs, a 1 MB blob, invalid UTF-8, embedded NULs, big keys.
.mode list
.headers off
CREATE VIRTUAL TABLE temp.t USING mvcc(k PRIMARY KEY, v);
INSERT INTO t VALUES ('', ''), (x'', x''), ('nul', 'a' || char(0) || 'b'), ('big', zeroblob(1048576)),
  ('bad utf8', CAST(x'ff80fe' AS TEXT)), ('null', NULL), (randomblob(2000), 'long key');
SELECT quote(k), typeof(v), length(v), hex(CAST(v AS BLOB)) FROM t WHERE typeof(k) = 'text' AND k <> 'big';
SELECT length(v), typeof(v) FROM t WHERE k = 'big';
SELECT typeof(k), typeof(v), length(v) FROM t WHERE typeof(k) = 'blob';
SELECT count(*) FROM t WHERE k = x'';
UPDATE t SET v = randomblob(3000000) WHERE k = 'big';
SELECT length(v) FROM t WHERE k = 'big';
