-- ON CONFLICT clauses in column definitions (PRIMARY KEY ... ON CONFLICT,
-- NOT NULL ON CONFLICT) cannot be honoured by a virtual table: SQLite hands
-- it only the statement's conflict mode, and a plain INSERT arrives as OR
-- ABORT.  They are refused with a message saying what to write instead,
-- rather than silently ignored; the words inside quotes do not count, and
-- the statement-level clauses work as on a native table.
.mode list
.headers off
CREATE VIRTUAL TABLE temp.r USING mvcc(a PRIMARY KEY ON CONFLICT REPLACE, b);
CREATE VIRTUAL TABLE temp.i USING mvcc(a PRIMARY KEY, b NOT NULL ON  CONFLICT IGNORE);
CREATE VIRTUAL TABLE temp.c USING mvcc(a PRIMARY KEY, "on" TEXT, conflict TEXT, 'on conflict' TEXT);
SELECT name FROM sqlite_temp_master ORDER BY name;
INSERT INTO c VALUES (1, 'x', 'y', 'z');
INSERT OR REPLACE INTO c VALUES (1, 'replaced', 'y', 'z');
INSERT OR IGNORE INTO c VALUES (1, 'ignored', 'y', 'z');
SELECT * FROM c;
