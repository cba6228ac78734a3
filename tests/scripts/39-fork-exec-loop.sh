# many fork+exec+wait cycles
n=0
for i in $(seq 1 100); do /bin/true && n=$((n + 1)); done
echo "ran true $n times"
for i in 1 2 3 4 5; do sh -c "exit $i"; echo -n "$? "; done; echo
i=0; while [ $i -lt 30 ]; do echo $i; i=$((i+1)); done | /usr/bin/tail -n 1
