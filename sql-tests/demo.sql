-- The demo database of `make shell`: an example table in its store.
CREATE VIRTUAL TABLE temp.accounts USING mvcc(id INTEGER PRIMARY KEY, owner TEXT NOT NULL, balance INTEGER);
INSERT INTO accounts VALUES (1, 'alice', 100), (2, 'bob', 50), (3, 'carol', 75);
