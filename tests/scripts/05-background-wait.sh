# background jobs and wait
(sleep 0.3; echo bg-slow) &
p1=$!
(sleep 0.1; echo bg-fast) &
p2=$!
echo foreground
wait $p2; echo "fast status=$?"
wait $p1; echo "slow status=$?"
(exit 5) & p3=$!
wait $p3; echo "exit5 status=$?"
for i in 1 2 3; do (sleep 0.$i; echo "job $i") & done
wait
echo "all waited"
