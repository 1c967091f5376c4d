-- NOT NULL columns and NULL keys are constraint errors; OR IGNORE skips
-- such rows; nothing partial is left.
.mode list
.headers off
CREATE VIRTUAL TABLE temp.t USING mvcc(id INTEGER PRIMARY KEY, name TEXT NOT NULL);
INSERT INTO t VALUES (1, NULL);
INSERT INTO t VALUES (NULL, 'x');
INSERT INTO t(name) VALUES ('no key');
INSERT OR IGNORE INTO t VALUES (2, NULL), (3, 'ok');
UPDATE t SET name = NULL WHERE id = 3;
CREATE VIRTUAL TABLE temp.k2 USING mvcc(a, b, PRIMARY KEY(a, b));
INSERT INTO k2 VALUES (1, NULL);
SELECT * FROM t;
SELECT count(*) FROM k2;
