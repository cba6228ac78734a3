# sqlite3: an in-memory database, a file database in /tmp with transactions and rollback,
# WAL mode (shared-memory index file mapped MAP_SHARED + fcntl locks), two connections and a
# second process contending for the write lock ("database is locked"), and integrity_check.
import os, sqlite3, subprocess, sys, tempfile

try:
    import _sqlite3  # noqa: F401
except ImportError:
    print("sqlite3 module missing in this python: skipped")
    print("done: ok")
    sys.exit(0)

m = sqlite3.connect(":memory:")
m.execute("create table t (k integer primary key, v text)")
m.executemany("insert into t (v) values (?)", [(f"row{i}",) for i in range(1000)])
print("memory rows:", m.execute("select count(*), min(k), max(k) from t").fetchone())
print("json1:", m.execute("select json_extract('{\"a\": [1, 2, 3]}', '$.a[1]')").fetchone())

d = tempfile.mkdtemp(prefix="py_sqlite3.")
path = os.path.join(d, "db.sqlite")
c = sqlite3.connect(path)
c.execute("create table kv (k text primary key, v integer)")
with c:
    c.executemany("insert into kv values (?, ?)", [(f"k{i}", i) for i in range(500)])
try:
    with c:
        c.execute("insert into kv values ('x', 1)")
        c.execute("insert into kv values ('k1', 1)")  # duplicate key: the whole transaction rolls back
except sqlite3.IntegrityError as e:
    print("integrity error:", type(e).__name__)
print("after rollback:", c.execute("select count(*), sum(v) from kv").fetchone())
print("journal mode:", c.execute("pragma journal_mode=wal").fetchone())
with c:
    c.execute("update kv set v = v + 1")
print("wal files exist:", os.path.exists(path + "-wal"), os.path.exists(path + "-shm"))
c2 = sqlite3.connect(path, timeout=0.1)
print("second connection reads:", c2.execute("select sum(v) from kv").fetchone())
c.execute("begin exclusive")
try:
    c2.execute("begin exclusive")
except sqlite3.OperationalError as e:
    print("second writer:", e)
c.execute("commit")
code = ("import sqlite3,sys; c=sqlite3.connect(sys.argv[1], timeout=5); "
        "c.execute('insert into kv values (\"fromchild\", 42)'); c.commit(); "
        "print(c.execute('select count(*) from kv').fetchone()[0])")
r = subprocess.run([sys.executable, "-c", code, path], capture_output=True, text=True)
print("child process insert:", r.stdout.strip(), r.returncode)
print("parent sees it:", c.execute("select v from kv where k = 'fromchild'").fetchone())
print("integrity:", c.execute("pragma integrity_check").fetchone())
c2.close()
c.close()
for f in os.listdir(d):
    os.unlink(os.path.join(d, f))
os.rmdir(d)
print("done: ok")
