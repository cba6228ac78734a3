# awk: fields, sums, arrays, printf, BEGIN/END
printf 'bob 3\nalice 5\nbob 4\ncarol 1\n' > /tmp/a.txt
awk '{ s += $2 } END { print "total", s }' /tmp/a.txt
awk '{ c[$1] += $2 } END { for (k in c) print k, c[k] }' /tmp/a.txt | sort
awk -F: '{ print $1, $NF }' /etc/passwd
awk 'BEGIN { printf "%05.1f|%s|%d\n", 3.14159, toupper("x"), length("moat") }'
seq 1 10 | awk 'NR % 3 == 0'
echo "a b c" | awk '{ $2 = "B"; print; print NF }'
