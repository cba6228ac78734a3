# The rest of everyday Python: time (sleep accuracy, monotonic/perf_counter/process_time,
# strftime in UTC), datetime arithmetic, logging to a rotating file, argparse, pickle of
# classes, dataclasses/enum/typing, weakref and gc, textwrap/difflib, io, sys details,
# locale C, platform.
import argparse, dataclasses, datetime, difflib, enum, gc, io, locale, logging, logging.handlers
import os, platform, sys, tempfile, textwrap, time, weakref

t0 = time.monotonic()
time.sleep(0.1)
el = time.monotonic() - t0
print("sleep 0.1:", 0.095 <= el < 1.0)
print("perf_counter advances:", time.perf_counter() > 0)
p0 = time.process_time()
sum(range(2000000))
print("process_time advances while computing:", time.process_time() > p0)
print("strftime UTC:", time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(1700000000)))
d = datetime.datetime(2024, 2, 28, 23, 0, tzinfo=datetime.timezone.utc) + datetime.timedelta(hours=25)
print("datetime:", d.isoformat(), d.weekday())
print("now is after 2020:", datetime.datetime.now(datetime.timezone.utc).year >= 2020)

logdir = tempfile.mkdtemp(prefix="py_misc.")
log = logging.getLogger("moat")
h = logging.handlers.RotatingFileHandler(os.path.join(logdir, "app.log"), maxBytes=200, backupCount=2)
h.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
log.addHandler(h)
log.setLevel(logging.INFO)
for i in range(20):
    log.info("message number %d", i)
h.close()
print("rotated log files:", sorted(os.listdir(logdir)))
for f in os.listdir(logdir):
    os.unlink(os.path.join(logdir, f))
os.rmdir(logdir)

ap = argparse.ArgumentParser(prog="moat-test")
ap.add_argument("--count", type=int, default=1)
ap.add_argument("names", nargs="*")
print("argparse:", vars(ap.parse_args(["--count", "3", "a", "b"])))

@dataclasses.dataclass(frozen=True)
class Point:
    x: int
    y: int = 0
class Color(enum.Enum):
    RED = 1
    GREEN = 2
print("dataclass:", Point(1, 2), Point(3) == Point(3, 0), "enum:", Color(2).name, list(Color))
class Node:
    pass
n = Node()
r = weakref.ref(n)
del n
gc.collect()
print("weakref cleared after gc:", r() is None)
print("textwrap:", textwrap.wrap("the quick brown fox jumps over the lazy dog", 12))
print("difflib:", list(difflib.unified_diff(["a\n", "b\n"], ["a\n", "c\n"], lineterm=""))[2:])
s = io.StringIO()
print("to a StringIO", file=s)
print("io:", repr(s.getvalue()), io.BytesIO(b"abc").read(2))
print("sys:", sys.platform, sys.maxsize == 2**63 - 1, sys.byteorder, sys.getrecursionlimit() >= 1000)
print("locale:", locale.setlocale(locale.LC_ALL, "C"), locale.getpreferredencoding(False))
print("platform:", platform.system(), platform.machine(), platform.node())
print("executable:", sys.executable, "prefix:", sys.prefix)
print("done: ok")
