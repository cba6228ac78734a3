# grep: match, count, invert, extended regex, recursive, exit status
printf 'apple\nbanana\ncherry\napricot\n' > /tmp/g.txt
grep ap /tmp/g.txt
grep -c a /tmp/g.txt
grep -v a /tmp/g.txt
grep -E '^(b|c)' /tmp/g.txt
grep -n cherry /tmp/g.txt
grep -i APPLE /tmp/g.txt
grep zzz /tmp/g.txt; echo "no match status=$?"
grep zzz /nonexistent 2>/dev/null; echo "missing file status=$?"
mkdir -p /tmp/gr/sub && echo needle > /tmp/gr/sub/f && echo hay > /tmp/gr/g
grep -r needle /tmp/gr
grep -rl hay /tmp/gr
grep -q root /etc/passwd && echo "root in passwd"
