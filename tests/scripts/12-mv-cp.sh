# cp, cp -r, mv (rename), cmp
mkdir -p /tmp/w/src/deep && cd /tmp/w
echo data > src/file
echo more > src/deep/file2
cp src/file copy && cat copy
cp -r src dst && find dst | sort
cmp src/deep/file2 dst/deep/file2 && echo "cmp equal"
mv copy moved && test ! -e copy && cat moved
mv dst renamed && ls
mv moved src/ && ls src
echo changed > src/file; cmp -s src/file renamed/file; echo "cmp differ status=$?"
