# a process killed by signal N has status 128+N (a child shell: the sandbox's pid 1 cannot be
# killed from inside its own namespace, so the script itself stays alive)
sh -c 'kill -9 $$'; echo "kill -9 status=$?"
sh -c 'kill -TERM $$'; echo "kill -TERM status=$?"
sh -c 'kill -INT $$'; echo "kill -INT status=$?"
sh -c 'kill -USR1 $$'; echo "kill -USR1 status=$?"
sh -c 'exit 200'; echo "exit 200 status=$?"
/opt/moat-tests/segv; echo "segv status=$?"
