# stat family and test(1)
mkdir -p /tmp/w/d && cd /tmp/w
printf '12345' > f
chmod 640 f
stat -c '%s %a %F' f
stat -c '%F %a' d
stat -c '%F' /dev/null
stat -L -c '%F' /bin/sh
stat -c '%F' /bin/sh
test -f f && echo "f is file"
test -d d && echo "d is dir"
test -e nope || echo "nope missing"
test -s f && echo "f non-empty"
: > empty; test -s empty || echo "empty is empty"
test -x /bin/busybox && echo "busybox executable"
test -r f && test -w f && echo "f rw"
[ f -nt /etc/passwd ] && echo "f newer than passwd"
stat -c '%u %g' f
