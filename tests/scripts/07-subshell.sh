# subshells: isolation of cwd, variables and exit status
x=outer
(x=inner; echo "in subshell x=$x")
echo "after subshell x=$x"
(cd /tmp && pwd)
pwd
(exit 4); echo "subshell status=$?"
( (echo nested; exit 2) ); echo "nested status=$?"
v=$( (echo a; echo b) | wc -l ); echo "lines=$v"
