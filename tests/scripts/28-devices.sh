# /dev/zero, /dev/urandom, /dev/null
dd if=/dev/zero bs=1k count=4 2>/dev/null | wc -c
head -c 16 /dev/urandom | wc -c
head -c 100 /dev/zero | tr -d '\0' | wc -c
head -c 4096 /dev/urandom | od -An -tx1 | tr -s ' ' '\n' | grep -c . 
a=$(head -c 16 /dev/urandom | od -An -tx1); b=$(head -c 16 /dev/urandom | od -An -tx1)
[ "$a" != "$b" ] && echo "urandom differs"
echo gone > /dev/null; cat /dev/null | wc -c
dd if=/dev/urandom of=/tmp/rnd bs=512 count=3 2>/dev/null; wc -c < /tmp/rnd
