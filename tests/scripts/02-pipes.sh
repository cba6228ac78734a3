# pipelines: pipe2, fork, execve, wait4
echo a b c | tr ' ' '\n' | sort -r | head -2
seq 1 10 | grep -v 5 | tr '\n' ' ' ; echo
printf 'x\ny\nz\n' | cat | cat | cat | wc -l
echo "upper" | tr a-z A-Z | rev
seq 1 2000 | sort -n | tail -n 3
yes moat | head -n 1000 | uniq -c
echo done
