# expect-exit: 139
# the script's own status when its last command dies of SIGSEGV
echo "running a faulting program"
/opt/moat-tests/segv
