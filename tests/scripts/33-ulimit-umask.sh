# umask and rlimits (the harness sets umask 022 and RLIMIT_NOFILE 1024 both ways)
umask
umask 077; umask
touch /tmp/um; stat -c '%a' /tmp/um
umask 022; touch /tmp/um2; stat -c '%a' /tmp/um2
mkdir /tmp/umd; stat -c '%a' /tmp/umd
ulimit -n
