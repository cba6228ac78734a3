# Files from Python: tempfile (mkstemp, TemporaryDirectory, NamedTemporaryFile, SpooledTemporaryFile),
# shutil (copy2 keeping times and modes, copytree, move, rmtree, make_archive/unpack_archive with
# tar and zip, disk_usage), os.walk/scandir/pathlib/glob listing (sorted), links, os.replace,
# fcntl.flock between processes, os.sendfile, os.statvfs, file modes and umask.
import fcntl, glob, os, pathlib, shutil, stat, subprocess, sys, tempfile, time

base = tempfile.mkdtemp(prefix="py_files.")
print("mkdtemp mode:", oct(os.stat(base).st_mode & 0o777))
fd, p = tempfile.mkstemp(dir=base, suffix=".txt")
os.write(fd, b"mkstemp data")
os.close(fd)
print("mkstemp mode:", oct(os.stat(p).st_mode & 0o777))
with tempfile.NamedTemporaryFile(dir=base) as f:
    f.write(b"named")
    f.flush()
    print("NamedTemporaryFile visible while open:", os.path.exists(f.name))
print("... and gone after close:", os.path.exists(f.name))
with tempfile.SpooledTemporaryFile(max_size=10) as sp:
    sp.write(b"x" * 100)
    print("spooled rolled over to a real file:", sp._rolled)
with tempfile.TemporaryDirectory(dir=base) as td:
    pathlib.Path(td, "a.txt").write_text("A")
print("TemporaryDirectory removed:", not os.path.exists(td))

src = pathlib.Path(base, "src")
(src / "sub" / "deep").mkdir(parents=True)
for i, rel in enumerate(["one.txt", "sub/two.txt", "sub/deep/three.txt", "sub/four.log"]):
    (src / rel).write_text(f"file {i}\n" * (i + 1))
os.chmod(src / "one.txt", 0o640)
os.utime(src / "one.txt", (1000000000, 1000000000))
os.symlink("one.txt", src / "link-to-one")
walk = [(os.path.relpath(r, src), sorted(d), sorted(f)) for r, d, f in os.walk(src)]
print("os.walk:", sorted(walk))
print("scandir:", sorted((e.name, e.is_dir(), e.is_symlink()) for e in os.scandir(src)))
print("glob **/*.txt:", sorted(os.path.relpath(x, src) for x in glob.glob(str(src / "**" / "*.txt"), recursive=True)))
print("pathlib rglob *.log:", [q.name for q in src.rglob("*.log")])
shutil.copy2(src / "one.txt", pathlib.Path(base, "copy.txt"))
st = os.stat(pathlib.Path(base, "copy.txt"))
print("copy2 keeps mode and mtime:", oct(st.st_mode & 0o777), int(st.st_mtime))
shutil.copytree(src, pathlib.Path(base, "tree"), symlinks=True)
print("copytree keeps the symlink:", os.readlink(pathlib.Path(base, "tree", "link-to-one")))
shutil.move(str(pathlib.Path(base, "tree")), str(pathlib.Path(base, "moved")))
print("move:", os.path.exists(pathlib.Path(base, "tree")), os.path.exists(pathlib.Path(base, "moved", "sub", "two.txt")))
for fmt in ("gztar", "zip"):
    arc = shutil.make_archive(str(pathlib.Path(base, "arc")), fmt, root_dir=src)
    out = pathlib.Path(base, "out-" + fmt)
    shutil.unpack_archive(arc, out)
    print(fmt, "round trip:", (out / "sub" / "deep" / "three.txt").read_text() == (src / "sub/deep/three.txt").read_text())
du = shutil.disk_usage(base)
print("disk_usage sane:", du.total >= du.used and du.free > 0)
sv = os.statvfs(base)
print("statvfs bsize > 0:", sv.f_bsize > 0)
shutil.rmtree(pathlib.Path(base, "moved"))
print("rmtree:", os.path.exists(pathlib.Path(base, "moved")))

a, b = pathlib.Path(base, "a"), pathlib.Path(base, "b")
a.write_text("first")
b.write_text("second")
os.replace(a, b)
print("os.replace:", b.read_text(), a.exists())
os.link(b, pathlib.Path(base, "hard"))
print("hard link count:", os.stat(b).st_nlink)
lock_path = pathlib.Path(base, "lock")
lf = open(lock_path, "w")
fcntl.flock(lf, fcntl.LOCK_EX)
r = subprocess.run([sys.executable, "-c", "import fcntl,sys; f=open(sys.argv[1]); "
                    "fcntl.flock(f, fcntl.LOCK_EX|fcntl.LOCK_NB)", str(lock_path)], capture_output=True, text=True)
print("flock held: other process gets", r.stderr.strip().splitlines()[-1].split(":")[0] if r.returncode else "the lock")
fcntl.flock(lf, fcntl.LOCK_UN)
r = subprocess.run([sys.executable, "-c", "import fcntl,sys; f=open(sys.argv[1]); fcntl.flock(f, fcntl.LOCK_EX|fcntl.LOCK_NB)", str(lock_path)])
print("after unlock the other process locks:", r.returncode == 0)
with open(b, "rb") as fi, open(pathlib.Path(base, "sent"), "wb") as fo:
    print("os.sendfile:", os.sendfile(fo.fileno(), fi.fileno(), 0, 100))
old = os.umask(0o077)
pathlib.Path(base, "private").write_text("p")
os.umask(old)
print("umask 077 file mode:", oct(os.stat(pathlib.Path(base, "private")).st_mode & 0o777))
print("stat.filemode:", stat.filemode(os.lstat(src / "link-to-one").st_mode), stat.filemode(os.stat(src / "one.txt").st_mode))
shutil.rmtree(base)
print("cleaned up:", not os.path.exists(base))
print("done: ok")
