# A threaded HTTP server and client on loopback: http.server + urllib.request (GET, POST,
# 404, headers, a 1 MiB body), http.client keep-alive, and xmlrpc round trips.
import hashlib, http.client, http.server, threading, urllib.error, urllib.request, xmlrpc.client, xmlrpc.server

BIG = bytes(range(256)) * 4096

class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a):
        pass
    def do_GET(self):
        if self.path == "/big":
            body = BIG
        elif self.path == "/hello":
            body = b"hello world"
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Moat", "yes")
        self.end_headers()
        self.wfile.write(body)
    def do_POST(self):
        n = int(self.headers["Content-Length"])
        body = self.rfile.read(n)
        out = hashlib.sha256(body).hexdigest().encode()
        self.send_response(201)
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
port = srv.server_address[1]
threading.Thread(target=srv.serve_forever, daemon=True).start()
base = f"http://127.0.0.1:{port}"
with urllib.request.urlopen(base + "/hello") as r:
    print("GET:", r.status, r.read(), r.headers["X-Moat"])
with urllib.request.urlopen(base + "/big") as r:
    print("1 MiB body intact:", r.read() == BIG)
try:
    urllib.request.urlopen(base + "/missing")
except urllib.error.HTTPError as e:
    print("404:", e.code)
req = urllib.request.Request(base + "/post", data=b"payload" * 1000, method="POST")
with urllib.request.urlopen(req) as r:
    print("POST:", r.status, r.read().decode() == hashlib.sha256(b"payload" * 1000).hexdigest())
c = http.client.HTTPConnection("127.0.0.1", port)
for _ in range(3):
    c.request("GET", "/hello")
    resp = c.getresponse()
    resp.read()
print("keep-alive: 3 requests on one connection:", resp.status)
c.close()
results = []
def fetch():
    with urllib.request.urlopen(base + "/hello") as r:
        results.append(r.read())
ts = [threading.Thread(target=fetch) for _ in range(10)]
for t in ts: t.start()
for t in ts: t.join()
print("10 concurrent clients:", len(results), set(results))
srv.shutdown()

rpc = xmlrpc.server.SimpleXMLRPCServer(("127.0.0.1", 0), logRequests=False)
rpc.register_function(lambda a, b: a + b, "add")
threading.Thread(target=rpc.serve_forever, daemon=True).start()
proxy = xmlrpc.client.ServerProxy(f"http://127.0.0.1:{rpc.server_address[1]}")
print("xmlrpc add:", proxy.add(2, 40), proxy.add("a", "b"))
rpc.shutdown()
print("done: ok")
