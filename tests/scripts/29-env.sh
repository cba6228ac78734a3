# environment: exported variables, env(1), env -i, unset
env | grep -v '^_=' | sort
export FOO=bar
env | grep '^FOO='
sh -c 'echo "child sees FOO=$FOO"'
env -i X=1 /usr/bin/env
unset FOO; sh -c 'echo "after unset FOO=[$FOO]"'
BAR=one sh -c 'echo "prefix BAR=$BAR"'
echo "HOME=$HOME PATH=$PATH"
