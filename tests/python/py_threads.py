# threading: Thread/Lock/RLock/Condition/Event/Semaphore/Barrier/local, queue.Queue, a
# ThreadPoolExecutor, native thread ids, daemon threads, exceptions in threads (excepthook),
# and threads blocking in sleep/IO while others run.
import concurrent.futures, os, queue, sys, threading, time

def counter_test():
    lock = threading.Lock()
    total = [0]
    def work(n):
        for _ in range(n):
            with lock:
                total[0] += 1
    ts = [threading.Thread(target=work, args=(5000,)) for _ in range(8)]
    for t in ts: t.start()
    for t in ts: t.join()
    print("locked counter:", total[0])

def condition_test():
    cv = threading.Condition()
    items, got = [], []
    def consumer():
        for _ in range(100):
            with cv:
                while not items:
                    cv.wait()
                got.append(items.pop(0))
    c = threading.Thread(target=consumer)
    c.start()
    for i in range(100):
        with cv:
            items.append(i)
            cv.notify()
    c.join()
    print("condition: consumed", len(got), "in order:", got == list(range(100)))

def misc_primitives():
    ev = threading.Event()
    res = []
    t = threading.Thread(target=lambda: res.append(ev.wait(5)))
    t.start(); time.sleep(0.05); ev.set(); t.join()
    print("event woke waiter:", res)
    print("event wait timeout:", threading.Event().wait(0.05))
    sem = threading.BoundedSemaphore(2)
    print("semaphore acquires:", sem.acquire(), sem.acquire(), sem.acquire(timeout=0.05))
    sem.release(); sem.release()
    try:
        sem.release()
    except ValueError:
        print("bounded semaphore over-release: ValueError")
    b = threading.Barrier(4)
    ids = []
    lock = threading.Lock()
    def at_barrier():
        i = b.wait()
        with lock:
            ids.append(i)
    ts = [threading.Thread(target=at_barrier) for _ in range(4)]
    for t in ts: t.start()
    for t in ts: t.join()
    print("barrier indices:", sorted(ids))
    r = threading.RLock()
    with r:
        with r:
            print("rlock reentrant: ok")
    loc = threading.local()
    loc.v = "main"
    seen = []
    def tl():
        loc.v = "thread"
        seen.append(loc.v)
    t = threading.Thread(target=tl); t.start(); t.join()
    print("thread-local:", loc.v, seen)

def queue_and_pool():
    q = queue.Queue()
    def producer():
        for i in range(50):
            q.put(i)
        q.put(None)
    threading.Thread(target=producer).start()
    s = 0
    while (x := q.get()) is not None:
        s += x
    print("queue sum:", s)
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as ex:
        print("pool map:", list(ex.map(lambda x: x * x, range(10))))
        f = ex.submit(lambda: 1 / 0)
        print("pool exception:", type(f.exception()).__name__)

def identities():
    ids = set()
    lock = threading.Lock()
    def rec():
        with lock:
            ids.add(threading.get_native_id())
    ts = [threading.Thread(target=rec) for _ in range(5)]
    for t in ts: t.start()
    for t in ts: t.join()
    print("native ids distinct from each other and the pid:", len(ids) == 5 and os.getpid() not in ids)
    print("main native id is the pid:", threading.get_native_id() == os.getpid())
    t = threading.Thread(target=lambda: None, name="custom-name")
    t.start(); t.join()
    print("name:", t.name, "alive after join:", t.is_alive())

def blocking_overlap():
    # Three threads sleep 0.2s at once: the wall time is ~0.2s, not 0.6s.
    t0 = time.monotonic()
    ts = [threading.Thread(target=time.sleep, args=(0.2,)) for _ in range(3)]
    for t in ts: t.start()
    for t in ts: t.join()
    el = time.monotonic() - t0
    print("parallel sleeps overlap:", 0.19 <= el < 0.55)
    r, w = os.pipe()
    out = []
    t = threading.Thread(target=lambda: out.append(os.read(r, 10)))
    t.start()
    time.sleep(0.05)
    os.write(w, b"wake")
    t.join()
    print("thread blocked in read woken:", out)

def thread_exceptions():
    seen = []
    old = threading.excepthook
    threading.excepthook = lambda a: seen.append(a.exc_type.__name__)
    t = threading.Thread(target=lambda: [][1]); t.start(); t.join()
    threading.excepthook = old
    print("excepthook saw:", seen)

counter_test()
condition_test()
misc_primitives()
queue_and_pool()
identities()
blocking_overlap()
thread_exceptions()
d = threading.Thread(target=time.sleep, args=(100,), daemon=True)
d.start()
print("active threads with a daemon:", threading.active_count())
print("done: ok")
