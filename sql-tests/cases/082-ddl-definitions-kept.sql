-- The store keeps column definitions as written, up to blanks and comments:
-- quoted names keep their spaces, and a -- comment inside a definition does
-- not swallow what follows it when the table is declared again (after a
-- restart, in .sql2), and a comment inside a declared type stays in it (as
-- on a native table, "X /* INT */ Y" has INTEGER affinity).  A comma inside
-- a comment does not split the stored definitions (mvcc_history reads them).
.mode list
.headers off
CREATE VIRTUAL TABLE temp.t USING mvcc("a  b" PRIMARY KEY, c -- the comment
  TEXT, "d	e" /* another */ INTEGER, f X /* INT */ Y);
INSERT INTO t VALUES (1, 'x', '2', '3');
SELECT name, type FROM pragma_table_info('t');
SELECT * FROM t;
CREATE VIRTUAL TABLE temp.u USING mvcc(a -- a note, then its newline,
 PRIMARY KEY, b);
INSERT INTO u VALUES (1, 2);
SELECT op, key, row FROM mvcc_history('u');
