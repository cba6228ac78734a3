# command substitution, backticks, nesting, trailing-newline stripping
a=$(echo hello)
b=`echo world`
echo "$a $b"
echo "nested: $(echo $(echo inner) outer)"
n=$(seq 1 100 | wc -l); echo "n=$n"
s=$(printf 'x\n\n\n'); echo "[$s]"
echo "arith: $(( $(echo 6) * 7 ))"
files=$(ls /etc | sort | tr '\n' ' '); echo "etc: $files"
