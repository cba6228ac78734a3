# asyncio over the sentry's epoll: select.epoll edge/level triggering and timeouts, then an
# asyncio TCP echo server with five clients, call_later ordering, run_in_executor threads,
# add_signal_handler (set_wakeup_fd + socketpair), a subprocess, a queue and wait_for.
import asyncio, os, select, signal, sys, time

def epoll_direct():
    ep = select.epoll()
    r, w = os.pipe()
    ep.register(r, select.EPOLLIN | select.EPOLLET)
    print("idle", ep.poll(0))
    os.write(w, b"x")
    print("et1", [(fd == r, ev) for fd, ev in ep.poll(0)])
    print("et2", ep.poll(0))
    os.write(w, b"y")
    print("et3", len(ep.poll(0)))
    ep.modify(r, select.EPOLLIN)
    print("lt", len(ep.poll(0)), len(ep.poll(0)))
    t0 = time.monotonic()
    os.read(r, 10)
    print("timeout", ep.poll(0.05), time.monotonic() - t0 >= 0.045)
    ep.close()

async def echo(reader, writer):
    while data := await reader.read(100):
        writer.write(data.upper())
        await writer.drain()
    writer.close()

async def main():
    loop = asyncio.get_running_loop()
    print("selector", type(loop._selector).__name__)
    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    results = []
    async def client(i):
        r, w = await asyncio.open_connection("127.0.0.1", port)
        w.write(f"hello {i}".encode())
        await w.drain()
        results.append((await r.read(100)).decode())
        w.close()
        await w.wait_closed()
    await asyncio.gather(*(client(i) for i in range(5)))
    print("echo", sorted(results))
    server.close()
    await server.wait_closed()

    fired = []
    loop.call_later(0.03, fired.append, "b")
    loop.call_later(0.01, fired.append, "a")
    await asyncio.sleep(0.06)
    print("call_later", fired)

    def blocking():
        time.sleep(0.02)
        return 42
    print("executor", await loop.run_in_executor(None, blocking))

    got = asyncio.Event()
    loop.add_signal_handler(signal.SIGUSR1, got.set)
    os.kill(os.getpid(), signal.SIGUSR1)
    await asyncio.wait_for(got.wait(), 5)
    print("signal handler ran")

    p = await asyncio.create_subprocess_exec("/bin/echo", "from child", stdout=asyncio.subprocess.PIPE)
    out, _ = await p.communicate()
    print("subprocess", out.decode().strip(), p.returncode)

    q = asyncio.Queue()
    async def prod():
        for i in range(3):
            await asyncio.sleep(0.005)
            await q.put(i)
    asyncio.create_task(prod())
    print("queue", [await q.get() for _ in range(3)])
    try:
        await asyncio.wait_for(asyncio.sleep(10), 0.05)
    except asyncio.TimeoutError:
        print("wait_for timeout")

epoll_direct()
asyncio.run(main())
print("done: ok")
