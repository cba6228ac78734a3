# trap handlers, kill of the shell itself (with a handler) and of a background sleep
trap 'echo "caught TERM"' TERM
kill -TERM $$
echo "after TERM"
trap 'echo "caught USR1"' USR1
kill -USR1 $$
# reset the handlers first: a child forked while TERM is trapped could catch an early kill
trap - TERM USR1
sleep 100 &
p=$!
kill $p
wait $p
echo "sleep killed status=$?"
sleep 100 &
p=$!
kill -KILL $p
wait $p
echo "sleep SIGKILL status=$?"
sleep 100 &
p=$!
sleep 0.1
kill -HUP $p
wait $p
echo "sleep SIGHUP status=$?"
trap 'echo "exit trap ran"' EXIT
echo end of script
