"""A smoke test of the extension from Python (Debian's /usr/bin/python3):
load it, create tables, write and read in and out of transactions, see the
errors Python users get, reopen the database (the tables come back), and run
two connections from two threads against one store."""
import os
import sqlite3
import threading

EXT = os.path.abspath("./build/mvcc")


def connect(path="smoke.db"):
    con = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    con.enable_load_extension(True)
    con.load_extension(EXT)
    return con


con = connect()
con.execute("CREATE VIRTUAL TABLE temp.t USING mvcc(id INTEGER PRIMARY KEY, "
            "name TEXT NOT NULL, data BLOB)")
con.executemany("INSERT INTO t VALUES (?, ?, ?)",
                [(i, "row%d" % i, bytes([i % 256]) * i) for i in range(100)])
assert con.execute("SELECT count(*) FROM t").fetchone() == (100,)
assert con.execute("SELECT name, length(data) FROM t WHERE id = 42").fetchone() == ("row42", 42)
assert [r[0] for r in con.execute(
    "SELECT id FROM t WHERE id BETWEEN 10 AND 13 ORDER BY id DESC")] == [13, 12, 11, 10]

con.execute("BEGIN")
con.execute("UPDATE t SET name = 'changed' WHERE id = 1")
assert con.execute("SELECT name FROM t WHERE id = 1").fetchone() == ("changed",)
con.execute("ROLLBACK")
assert con.execute("SELECT name FROM t WHERE id = 1").fetchone() == ("row1",)

for bad, exc, text in [
        ("INSERT INTO t VALUES (1, 'x', NULL)", sqlite3.IntegrityError,
         "UNIQUE constraint failed: t.id"),
        ("INSERT INTO t VALUES (500, NULL, NULL)", sqlite3.IntegrityError,
         "NOT NULL constraint failed: t.name"),
        ("CREATE VIRTUAL TABLE main.m USING mvcc", sqlite3.OperationalError,
         "temp"),
        ("CREATE VIRTUAL TABLE temp.z USING mvcc(a, b)",
         sqlite3.OperationalError, "PRIMARY KEY")]:
    try:
        con.execute(bad)
        raise AssertionError("accepted: " + bad)
    except exc as e:
        assert text in str(e), (bad, str(e))
assert con.execute("SELECT count(*) FROM t").fetchone() == (100,)

# A lock held by one connection makes another wait, then time out.
other = connect()
other.execute("PRAGMA busy_timeout = 100")
con.execute("BEGIN")
con.execute("UPDATE t SET name = 'locked' WHERE id = 5")
try:
    other.execute("UPDATE t SET name = 'other' WHERE id = 5")
    raise AssertionError("lock not held")
except sqlite3.OperationalError as e:
    assert "restart transaction: lock timeout" in str(e), str(e)
con.execute("COMMIT")

# Two threads, one connection each, incrementing one counter.
con.execute("CREATE VIRTUAL TABLE temp.c USING mvcc(k PRIMARY KEY, n INTEGER)")
con.execute("INSERT INTO c VALUES ('x', 0)")


def bump(times):
    c = connect()
    for _ in range(times):
        c.execute("UPDATE c SET n = n + 1 WHERE k = 'x'")
    c.close()


threads = [threading.Thread(target=bump, args=(200,)) for _ in range(2)]
for th in threads:
    th.start()
for th in threads:
    th.join()
assert con.execute("SELECT n FROM c").fetchone() == (400,)
con.close()
other.close()

# Reopened later, the store still has its tables and rows.
con = connect()
assert con.execute("SELECT count(*) FROM t").fetchone() == (100,)
assert con.execute("SELECT n FROM c").fetchone() == (400,)
print("python smoke test: ok")
