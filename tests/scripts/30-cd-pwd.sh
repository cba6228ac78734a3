# cd, pwd, cd -, .., symlinked directories
pwd
cd /tmp && pwd
mkdir -p /tmp/w/a/b && cd /tmp/w/a/b && pwd
cd .. && pwd
cd ../.. && pwd
cd - >/dev/null && pwd
ln -s /tmp/w/a /tmp/w/link && cd /tmp/w/link/b && pwd && pwd -P
cd /nonexistent 2>/dev/null; echo "cd missing status=$?"
cd && pwd
/bin/pwd
