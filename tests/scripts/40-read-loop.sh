# read builtin: IFS splitting, line loops, read -r
printf 'a:b:c\nd:e:f\n' > /tmp/r.txt
while IFS=: read -r x y z; do echo "$z $y $x"; done < /tmp/r.txt
printf 'back\\slash\n' | { read -r l; echo "$l"; }
printf 'one two three\n' | { read a rest; echo "a=$a rest=$rest"; }
count=0; while read -r line; do count=$((count + 1)); done < /etc/passwd; echo "passwd lines=$count"
