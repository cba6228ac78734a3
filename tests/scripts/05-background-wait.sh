# background jobs and wait (output whose order depends on timing goes through sort)
(sleep 0.3; echo bg-slow > /tmp/slow) &
p1=$!
(sleep 0.1; echo bg-fast) &
p2=$!
wait $p2; echo "fast status=$?"
wait $p1; echo "slow status=$?"; cat /tmp/slow
(exit 5) & p3=$!
wait $p3; echo "exit5 status=$?"
{ for i in 3 1 2; do (sleep 0.$i; echo "job $i") & done; wait; echo "all waited"; } | sort
sleep 10 & p4=$!
kill $p4; wait $p4; echo "killed job status=$?"
echo done
