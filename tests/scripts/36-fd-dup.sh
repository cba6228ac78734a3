# dup/dup2 through exec redirections, reading from fds, closing fds
cd /tmp
exec 3>fd3.txt
echo "to fd 3" >&3
exec 3>&-
cat fd3.txt
printf 'first\nsecond\n' > in.txt
exec 4<in.txt
read -r l1 <&4; read -r l2 <&4
echo "$l2 $l1"
exec 4<&-
exec 5>&1; echo "via dup of stdout" >&5; exec 5>&-
{ echo out; echo err >&2; } 2>&1 | sort
echo x >&7 2>/dev/null; echo "closed fd status=$?"
