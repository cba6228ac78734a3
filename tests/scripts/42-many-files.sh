# directories with many entries (several getdents64 calls), unlink in bulk
mkdir -p /tmp/many && cd /tmp/many
for i in $(seq 1 300); do : > "file-with-a-rather-long-name-$i"; done
ls | wc -l
find . -type f | wc -l
ls | sort | head -n 2
rm file-with-a-rather-long-name-1*
ls | wc -l
cd / && rm -rf /tmp/many && test ! -e /tmp/many && echo removed
