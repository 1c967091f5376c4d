-- The store keeps column definitions as written, up to blanks and comments:
-- quoted names keep their spaces, and a -- comment inside a definition does
-- not swallow what follows it when the table is declared again (after a
-- restart, in .sql2), and a comment inside a declared type stays in it (as
-- on a native table, "X /* INT */ Y" has INTEGER affinity).
.mode list
.headers off
CREATE VIRTUAL TABLE temp.t USING mvcc("a  b" PRIMARY KEY, c -- the comment
  TEXT, "d	e" /* another */ INTEGER, f X /* INT */ Y);
INSERT INTO t VALUES (1, 'x', '2', '3');
SELECT name, type FROM pragma_table_info('t');
SELECT * FROM t;
