# shell arithmetic and parameter expansion
a=17; b=5
echo $((a + b)) $((a - b)) $((a * b)) $((a / b)) $((a % b)) $((a << 2)) $((a & b)) $((-a))
echo $(( (a > b) ? a : b ))
s=/usr/local/bin/prog.tar.gz
echo "${s##*/} ${s%/*} ${s%%.*} ${s#*.} ${#s}"
echo "${unset_var:-default} ${unset_var:=assigned} $unset_var"
x=abcdef; echo "${x%ef}" "${x#ab}"
set -- one two three; echo "$# $1 $3 $*"
shift; echo "$# $1"
printf '%d\n' 0x1f
