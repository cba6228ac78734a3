# && || ! and pipeline status
true && echo "and ran"
false && echo "never"
false || echo "or ran"
! true; echo "not true=$?"
false | true; echo "pipe last true=$?"
true | false; echo "pipe last false=$?"
set -o pipefail; false | true; echo "pipefail=$?"; set +o pipefail
if grep -q root /etc/passwd; then echo "if-then"; else echo "if-else"; fi
command -v ls
type cd | head -c 6; echo
