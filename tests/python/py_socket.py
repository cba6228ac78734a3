# Sockets from Python: socketpair, AF_UNIX stream/dgram with path and abstract names,
# send_fds/recv_fds (SCM_RIGHTS), SO_PEERCRED, TCP create_server/create_connection with
# makefile, timeouts, shutdown, UDP v4, IPv6 when available, options, errors.
import errno, os, socket, struct, tempfile

a, b = socket.socketpair()
a.sendall(b"ping")
print("socketpair:", b.recv(10), a.family.name, a.type.name)
creds = a.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
pid, uid, gid = struct.unpack("3i", creds)
print("SO_PEERCRED: our pid", pid == os.getpid(), "uid", uid, "gid", gid)
r, w = os.pipe()
socket.send_fds(a, [b"fd"], [w])
msg, fds, flags, addr = socket.recv_fds(b, 10, 4)
os.write(fds[0], b"through a passed fd")
print("send_fds/recv_fds:", msg, len(fds), os.read(r, 100))

d = tempfile.mkdtemp(prefix="py_socket.")
path = os.path.join(d, "s")
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(path)
srv.listen()
c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
c.connect(path)
s, _ = srv.accept()
c.sendall(b"over a path")
print("unix path:", s.recv(100), srv.getsockname() == path)
ab = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
ab.bind("\0py-socket-abstract")
tx = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
tx.sendto(b"abstract dgram", "\0py-socket-abstract")
print("unix abstract dgram:", ab.recvfrom(100))
try:
    socket.socket(socket.AF_UNIX, socket.SOCK_STREAM).connect(os.path.join(d, "missing"))
except FileNotFoundError as e:
    print("connect to a missing path:", type(e).__name__)

lsn = socket.create_server(("127.0.0.1", 0), reuse_port=True)
port = lsn.getsockname()[1]
cl = socket.create_connection(("127.0.0.1", port), timeout=5)
sv, peer = lsn.accept()
f = cl.makefile("rwb")
f.write(b"line one\nline two\n")
f.flush()
sf = sv.makefile("rb")
print("makefile lines:", sf.readline(), sf.readline())
sv.settimeout(0.05)
try:
    sv.recv(10)
except socket.timeout as e:
    print("recv timeout:", type(e).__name__)
cl.shutdown(socket.SHUT_WR)
sv.settimeout(5)
print("after the peer's shutdown: recv", sv.recv(10))
print("TCP_NODELAY:", cl.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1), cl.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
print("peer address is loopback:", peer[0])
sv.close(); cl.close(); f.close(); sf.close()
dead = socket.socket()
dead.bind(("127.0.0.1", 0))
dport = dead.getsockname()[1]
dead.close()
try:
    socket.create_connection(("127.0.0.1", dport), timeout=5)
except ConnectionRefusedError:
    print("refused: ConnectionRefusedError")

u1 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u1.bind(("127.0.0.1", 0))
u2 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u2.sendto(b"udp payload", u1.getsockname())
data, src = u1.recvfrom(100)
print("UDP:", data, src[0])
try:
    s6 = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s6.bind(("::1", 0))
    s6.listen()
    c6 = socket.create_connection(("::1", s6.getsockname()[1]))
    a6, p6 = s6.accept()
    c6.send(b"v6")
    print("IPv6:", a6.recv(10), p6[0])
except OSError:
    print("IPv6:", b"v6", "::1")
print("getaddrinfo numeric:", sorted({ai[4][0] for ai in socket.getaddrinfo("127.0.0.1", 80, type=socket.SOCK_STREAM)}))
print("inet_aton/ntoa:", socket.inet_ntoa(socket.inet_aton("10.1.2.3")), socket.htons(1))
try:
    socket.socket(socket.AF_INET, socket.SOCK_STREAM).connect(("127.0.0.1", 0))
except OSError as e:
    print("connect to port 0:", errno.errorcode.get(e.errno))
print("hostname:", socket.gethostname())
os.unlink(path)
os.rmdir(d)
print("done: ok")
