# sort and uniq
printf '10\n9\n100\n9\n1\n' > /tmp/n.txt
sort /tmp/n.txt
sort -n /tmp/n.txt
sort -nr /tmp/n.txt
sort -u /tmp/n.txt
sort -n /tmp/n.txt | uniq -c
printf 'b 2\na 3\nc 1\n' | sort -k2,2n
printf 'x\nx\ny\nx\n' | uniq
printf 'x\nx\ny\nx\n' | sort | uniq -d
