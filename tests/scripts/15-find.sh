# find: -name, -type, -maxdepth, -exec
mkdir -p /tmp/w/t/a/b /tmp/w/t/c && cd /tmp/w/t
touch a/x.txt a/b/y.txt c/z.log top.txt
find . | sort
find . -name '*.txt' | sort
find . -type d | sort
find . -maxdepth 1 -type f
find . -name '*.log' -exec echo found {} \;
find /etc -type f | sort
find . -newer /etc/passwd -type f | wc -l
