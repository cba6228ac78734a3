# seq and xargs (fork+exec per batch)
seq 5
seq 2 2 10 | tr '\n' ' '; echo
seq -s, 1 5
seq 1 10 | xargs echo
seq 1 10 | xargs -n 3 echo
echo a b c | xargs -n 1 echo item
mkdir -p /tmp/x && cd /tmp/x && seq 1 5 | xargs touch && ls | sort -n | xargs
printf '%s\n' one two | xargs -I{} sh -c 'echo "<{}>"'
