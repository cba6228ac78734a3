# sed: substitute, delete, address ranges, in-place
printf 'alpha\nbeta\ngamma\ndelta\n' > /tmp/s.txt
sed 's/a/A/g' /tmp/s.txt
sed -n '2,3p' /tmp/s.txt
sed '/gamma/d' /tmp/s.txt
sed -e 's/^/> /' -e '$a\the end' /tmp/s.txt
echo 'key=value' | sed -E 's/([a-z]+)=([a-z]+)/\2=\1/'
sed -i 's/beta/BETA/' /tmp/s.txt && cat /tmp/s.txt
