# mkdir -p, rmdir, rm -rf, rm -f
cd /tmp
mkdir -p w/a/b/c/d
test -d w/a/b/c/d && echo "deep dir exists"
mkdir w/a 2>/dev/null; echo "mkdir existing status=$?"
mkdir -p w/a; echo "mkdir -p existing status=$?"
touch w/a/b/file w/a/b/c/file
rm -rf w/a/b
test -e w/a/b; echo "after rm -rf exists=$?"
ls w/a | wc -l
rmdir w/a && echo "rmdir ok"
rm w/nothing 2>/dev/null; echo "rm missing status=$?"
rm -f w/nothing; echo "rm -f missing status=$?"
mkdir -m 700 w/priv && stat -c '%a' w/priv
