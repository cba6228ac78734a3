# expect-exit: 1
# the status of the last command is the script's status
true && echo "true ok"
false || echo "false handled"
! false && echo "negation"
false
