# multiprocessing: Process with exit codes, Pool.map/apply_async (fork), Queue and Pipe,
# shared Value/Array with a Lock, an Event across processes, a Manager (server process over
# a socket), shared_memory (POSIX shm in /dev/shm), and the spawn start method.
import multiprocessing as mp, os, sys
from multiprocessing import shared_memory

def square(x):
    return x * x

def child(q, n):
    q.put((n, os.getpid() != os.getppid()))

def exiter(code):
    sys.exit(code)

def adder(val, arr, lock):
    for _ in range(200):
        with lock:
            val.value += 1
    for i in range(len(arr)):
        arr[i] += 1

def waiter(ev, q):
    q.put(ev.wait(5))

def piper(conn):
    conn.send(conn.recv() * 2)
    conn.close()

def use_manager(d, l):
    d["child"] = os.getpid() > 0
    l.append(7)

def shm_writer(name):
    s = shared_memory.SharedMemory(name=name)
    s.buf[:5] = b"hello"
    s.close()

if __name__ == "__main__":
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    ps = [ctx.Process(target=child, args=(q, i)) for i in range(4)]
    for p in ps: p.start()
    got = sorted(q.get() for _ in ps)
    for p in ps: p.join()
    print("processes:", got, [p.exitcode for p in ps])
    p = ctx.Process(target=exiter, args=(7,)); p.start(); p.join()
    print("exit code:", p.exitcode)
    p = ctx.Process(target=os.kill, args=(0, 0)); p.start(); p.join()
    with ctx.Pool(3) as pool:
        print("pool.map:", pool.map(square, range(12)))
        print("apply_async:", pool.apply_async(square, (9,)).get(timeout=20))
        print("imap_unordered sum:", sum(pool.imap_unordered(square, range(100))))
    val, arr, lock = ctx.Value("i", 0), ctx.Array("d", [0.0] * 5), ctx.Lock()
    ps = [ctx.Process(target=adder, args=(val, arr, lock)) for _ in range(3)]
    for p in ps: p.start()
    for p in ps: p.join()
    print("shared value:", val.value, "array:", list(arr))
    ev, q2 = ctx.Event(), ctx.Queue()
    p = ctx.Process(target=waiter, args=(ev, q2)); p.start()
    ev.set()
    print("event across processes:", q2.get(timeout=20)); p.join()
    a, b = ctx.Pipe()
    p = ctx.Process(target=piper, args=(b,)); p.start()
    a.send(21)
    print("pipe:", a.recv()); p.join()
    with ctx.Manager() as m:
        d, l = m.dict(), m.list()
        p = ctx.Process(target=use_manager, args=(d, l)); p.start(); p.join()
        print("manager:", dict(d), list(l))
    s = shared_memory.SharedMemory(create=True, size=4096)
    print("shared_memory in /dev/shm:", os.path.exists("/dev/shm/" + s.name))
    p = ctx.Process(target=shm_writer, args=(s.name,)); p.start(); p.join()
    print("shared_memory content:", bytes(s.buf[:5]))
    s.close(); s.unlink()
    sp = mp.get_context("spawn")
    with sp.Pool(2) as pool:
        print("spawn pool:", pool.map(square, [1, 2, 3]))
    print("cpu_count >= 1:", mp.cpu_count() >= 1)
    print("done: ok")
