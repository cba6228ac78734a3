# pipes with more data than the pipe buffer, SIGPIPE of the writer
seq 1 50000 | wc -l
seq 1 50000 | md5sum
yes abcdefghij | head -c 200000 | wc -c
head -c 300000 /dev/zero | cat | wc -c
seq 1 20000 | sort -rn | head -n 2
yes | head -n 3
