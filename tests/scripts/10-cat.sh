# cat of files, stdin, several files, line numbering
mkdir -p /tmp/w && cd /tmp/w
printf 'one\ntwo\n' > f1
printf 'three\n' > f2
cat f1
cat f1 f2
echo piped | cat
echo from-stdin | cat f1 - f2
cat -n f1 f2
cat /etc/passwd
cat /etc/hostname
