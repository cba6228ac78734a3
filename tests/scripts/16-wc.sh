# wc: lines, words, bytes
printf 'one two\nthree\n\nfour five six\n' > /tmp/wc.txt
wc -l < /tmp/wc.txt
wc -w < /tmp/wc.txt
wc -c < /tmp/wc.txt
wc /tmp/wc.txt
seq 1 12345 | wc -l
echo -n "" | wc -c
