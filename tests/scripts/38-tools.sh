# compression, checksums, tar, base64 (CPU-bound code and bigger read/write patterns)
mkdir -p /tmp/t/d && cd /tmp/t
seq 1 3000 > d/numbers
echo hello > d/hello
echo hello | md5sum
echo hello | sha256sum
seq 1 1000 | gzip -c | gunzip -c | tail -n 1
tar -cf /tmp/a.tar d && tar -tf /tmp/a.tar | sort
mkdir x && cd x && tar -xf /tmp/a.tar && cmp d/numbers ../d/numbers && echo "tar roundtrip ok"
echo 'moat sandbox' | base64
echo 'bW9hdCBzYW5kYm94Cg==' | base64 -d
od -c /tmp/t/d/hello
