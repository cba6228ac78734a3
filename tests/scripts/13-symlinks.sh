# ln -s, readlink, hard links, symlink resolution
mkdir -p /tmp/w/real && cd /tmp/w
echo target > real/file
ln -s real/file rel-link
ln -s /tmp/w/real abs-dir-link
readlink rel-link
readlink abs-dir-link
cat rel-link
cat abs-dir-link/file
readlink -f rel-link
ln -s dangling-target dangling
test -L dangling && echo "dangling is a link"
test -e dangling || echo "dangling target missing"
ln real/file hard
stat -c '%h' real/file
echo appended >> hard; cat real/file
ls -1 /bin/sh >/dev/null && readlink /bin/sh
ln -s loop1 loop2; ln -s loop2 loop1
cat loop1 2>/dev/null; echo "loop status=$?"
