# expect-exit: 3
echo "exiting with 3"
exit 3
echo "not reached"
