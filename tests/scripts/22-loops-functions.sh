# loops, case, functions, recursion, local variables
for i in 1 2 3; do echo "for $i"; done
i=0; while [ $i -lt 3 ]; do i=$((i + 1)); echo "while $i"; done
j=3; until [ $j -eq 0 ]; do echo "until $j"; j=$((j - 1)); done
for w in apple 42 "-x"; do
    case "$w" in
        [0-9]*) echo "$w: number" ;;
        -*) echo "$w: option" ;;
        *) echo "$w: word" ;;
    esac
done
fact() { if [ "$1" -le 1 ]; then echo 1; else echo $(( $1 * $(fact $(( $1 - 1 ))) )); fi; }
echo "fact 10 = $(fact 10)"
f() { local v=inside; echo "$v $1"; return 7; }
v=outside; f arg; echo "f returned $? v=$v"
for i in 1 2 3 4 5; do [ $i -eq 2 ] && continue; [ $i -eq 4 ] && break; echo "loop $i"; done
