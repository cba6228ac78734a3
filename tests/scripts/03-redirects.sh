# redirects to files: > >> < 2>&1 and friends
mkdir -p /tmp/w && cd /tmp/w
echo first > out.txt
echo second >> out.txt
cat < out.txt
ls /nonexistent-dir > err.txt 2>&1; echo "ls status=$?"
grep -c 'No such file' err.txt
{ echo to-stdout; echo to-stderr >&2; } > both.txt 2>&1
sort both.txt
echo hidden > /dev/null
wc -l < out.txt
: > out.txt; wc -c < out.txt
cat out.txt nothere 2>/dev/null; echo "cat status=$?"
