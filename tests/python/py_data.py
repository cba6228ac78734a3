# Pure interpreter and C-extension work: json, hashlib (md5/sha1/sha256/sha3/blake2),
# hmac, zlib/gzip/bz2/lzma, base64/binascii, struct, pickle, decimal/fractions, re,
# random with a seed, collections/itertools/heapq/bisect, unicode round trips.
import base64, binascii, bisect, bz2, collections, decimal, fractions, gzip, hashlib, heapq
import hmac, itertools, json, lzma, pickle, random, re, struct, zlib

data = {"name": "moat", "list": [1, 2.5, None, True], "nested": {"a": "é✓"}}
s = json.dumps(data, sort_keys=True, ensure_ascii=False)
print("json:", s, json.loads(s) == data)
blob = b"the quick brown fox " * 1000
for name in ["md5", "sha1", "sha256", "sha512", "sha3_256", "blake2b"]:
    print(name, hashlib.new(name, blob).hexdigest()[:32])
print("hmac:", hmac.new(b"key", b"msg", "sha256").hexdigest()[:32])
for mod in (zlib, gzip, bz2, lzma):
    c = mod.compress(blob)
    print(mod.__name__, "round trip:", mod.decompress(c) == blob, "smaller:", len(c) < len(blob) // 10)
print("crc32:", zlib.crc32(blob), "adler32:", zlib.adler32(blob))
print("base64:", base64.b64encode(b"\x00\xffmoat"), base64.b32encode(b"moat"), binascii.hexlify(b"\x01\x02"))
print("struct:", struct.pack("<iHd", -2, 7, 1.5).hex(), struct.unpack(">I", b"\x00\x00\x01\x00"))
obj = {"a": [1, 2, (3, 4)], "b": {1, 2, 3}, "c": collections.OrderedDict(x=1)}
print("pickle round trip:", all(pickle.loads(pickle.dumps(obj, p)) == obj for p in range(pickle.HIGHEST_PROTOCOL + 1)))
decimal.getcontext().prec = 30
print("decimal:", decimal.Decimal(1) / decimal.Decimal(7))
print("fraction:", fractions.Fraction(3, 4) + fractions.Fraction(1, 6))
print("re:", re.findall(r"(\w)o(\w)", "moat foo boat"), re.sub(r"\d+", "#", "a1b22c333"))
random.seed(1234)
print("random:", [random.randint(0, 100) for _ in range(5)], round(random.random(), 6))
h = [5, 1, 8, 3, 9, 2]
heapq.heapify(h)
print("heapq:", [heapq.heappop(h) for _ in range(3)], "bisect:", bisect.bisect([1, 3, 5, 7], 4))
print("itertools:", list(itertools.islice(itertools.permutations("abc"), 4)), list(itertools.accumulate(range(6))))
print("counter:", collections.Counter("mississippi").most_common(3))
u = "Grüße, 世界! 🚀"
print("unicode:", u.encode("utf-8").hex()[:24], u.encode("utf-16-le").decode("utf-16-le") == u, u.upper(), len(u))
print("big int:", pow(3, 200, 10**20), (2**521 - 1) % 1000003)
print("float:", repr(0.1 + 0.2), 1e308 * 10, float("nan") != float("nan"))
print("done: ok")
