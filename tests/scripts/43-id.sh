# identity: uid/gid 0 from the spec, names from /etc/passwd and /etc/group
id -u
id -g
id -un
id -gn
whoami
echo "HOME=$HOME"
