# file append from several processes and O_APPEND semantics
f=/tmp/append.txt
for i in 1 2 3 4 5; do echo "line $i" >> $f; done
sh -c "echo from-child >> $f"
(echo from-subshell) >> $f
exec 3>>$f; echo via-fd3 >&3; exec 3>&-
cat $f
wc -l < $f
printf 'abc' > /tmp/ap2; printf 'def' >> /tmp/ap2; cat /tmp/ap2; echo
