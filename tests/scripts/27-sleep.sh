# nanosleep via sleep, and timing that is robust to slow sandboxes
sleep 0.1
echo "slept 0.1"
sleep 0
usleep 1000
s=$(date +%s); sleep 1; e=$(date +%s); [ $((e - s)) -ge 1 ] && echo "at least one second passed"
