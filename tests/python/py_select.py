# Readiness from Python: select.select/poll/epoll and selectors.DefaultSelector over pipes,
# socketpairs and TCP sockets; timeouts; nonblocking pipes (BlockingIOError); a selector loop
# serving several connections.
import errno, os, select, selectors, socket, time

r, w = os.pipe()
print("select idle:", select.select([r], [], [], 0))
os.write(w, b"x")
rl, wl, _ = select.select([r], [w], [], 0)
print("select ready:", rl == [r], wl == [w])
os.read(r, 1)
t0 = time.monotonic()
print("select timeout:", select.select([r], [], [], 0.05), time.monotonic() - t0 >= 0.045)
p = select.poll()
p.register(r, select.POLLIN)
print("poll idle:", p.poll(0))
os.write(w, b"y")
print("poll ready:", [(fd == r, ev) for fd, ev in p.poll(0)])
os.close(w)
os.read(r, 10)
print("poll after the writer closed:", [(fd == r, bool(ev & select.POLLHUP)) for fd, ev in p.poll(0)])
os.close(r)

a, b = socket.socketpair()
ep = select.epoll()
ep.register(a.fileno(), select.EPOLLIN | select.EPOLLOUT)
print("epoll writable:", [(fd == a.fileno(), ev) for fd, ev in ep.poll(0)])
b.send(b"data")
print("epoll readable+writable:", [ev for _, ev in ep.poll(0)])
ep.close()

r, w = os.pipe()
os.set_blocking(r, False)
try:
    os.read(r, 1)
except BlockingIOError as e:
    print("nonblocking read:", type(e).__name__, e.errno == errno.EAGAIN)
os.set_blocking(w, False)
n = 0
try:
    while True:
        n += os.write(w, b"z" * 4096)
except BlockingIOError:
    print("nonblocking pipe filled:", n)

sel = selectors.DefaultSelector()
print("selector:", type(sel).__name__)
srv = socket.create_server(("127.0.0.1", 0))
srv.setblocking(False)
port = srv.getsockname()[1]
served = []
def accept(sock):
    c, _ = sock.accept()
    c.setblocking(False)
    sel.register(c, selectors.EVENT_READ, echo)
def echo(c):
    data = c.recv(100)
    if data:
        served.append(data)
        c.send(data[::-1])
    else:
        sel.unregister(c)
        c.close()
sel.register(srv, selectors.EVENT_READ, accept)
clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(5)]
for i, c in enumerate(clients):
    c.send(f"msg{i}".encode())
replies = []
deadline = time.monotonic() + 10
while len(replies) < 5 and time.monotonic() < deadline:
    for key, _ in sel.select(0.1):
        key.data(key.fileobj)
    for c in clients:
        c.setblocking(False)
        try:
            replies.append(c.recv(100))
        except BlockingIOError:
            pass
print("selector served:", sorted(served), sorted(replies))
for c in clients:
    c.close()
sel.close()
print("done: ok")
