# busybox timeout: a signal sent to a child after a delay
timeout 1 sleep 10; echo "timeout status=$?"
timeout 5 true; echo "quick status=$?"
timeout -s KILL 1 sleep 10; echo "kill status=$?"
