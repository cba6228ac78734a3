# mmap: anonymous shared memory across fork, file mappings (write then flush, read through the
# file, resize, ACCESS_READ/ACCESS_COPY), find/seek/slicing, madvise. (SIGBUS past EOF is
# tests/programs/mm_map_eof.c.)
import mmap, os, signal, sys, tempfile

m = mmap.mmap(-1, 8192)
m[:5] = b"hello"
pid = os.fork()
if pid == 0:
    m[4096:4101] = b"child"
    os._exit(0)
os.waitpid(pid, 0)
print("anonymous shared across fork:", m[:5], m[4096:4101])

d = tempfile.mkdtemp(prefix="py_mmap.")
path = os.path.join(d, "f")
with open(path, "wb") as f:
    f.write(b"0123456789" * 1000)
with open(path, "r+b") as f:
    mm = mmap.mmap(f.fileno(), 0)
    print("length:", len(mm), "find:", mm.find(b"567", 100), "slice:", mm[10:15])
    mm[0:4] = b"ABCD"
    mm.flush()
    mm.seek(20)
    print("read after seek:", mm.read(5), "tell:", mm.tell())
    mm.resize(20000)
    print("resized file size:", os.path.getsize(path))
    mm[19990:20000] = b"Z" * 10
    if hasattr(mmap, "MADV_DONTNEED"):
        mm.madvise(mmap.MADV_WILLNEED)
    mm.close()
with open(path, "rb") as f:
    data = f.read()
print("file sees the writes:", data[:4], data[-10:], len(data))
with open(path, "rb") as f:
    ro = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    try:
        ro[0:1] = b"x"
    except TypeError as e:
        print("ACCESS_READ write:", type(e).__name__)
    cp = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY)
    cp[0:4] = b"copy"
    print("ACCESS_COPY private:", cp[:4], ro[:4])
os.unlink(path)
os.rmdir(d)
print("PAGESIZE:", mmap.PAGESIZE, "ALLOCATIONGRANULARITY:", mmap.ALLOCATIONGRANULARITY)
print("done: ok")
