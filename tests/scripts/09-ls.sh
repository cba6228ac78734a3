# ls of directories (getdents64, stat)
mkdir -p /tmp/w/dir/sub && cd /tmp/w/dir
touch b a c .hidden
ls
ls -1a
ls -d sub
ls -F
ls /
ls /etc
ls -1 /usr/bin | wc -l
ls /nonexistent; echo "status=$?"
