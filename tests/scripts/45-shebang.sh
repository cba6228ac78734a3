# executing #! scripts (the loader reads the interpreter line)
printf '#!/bin/sh\necho "shebang script args: $*"\nexit 9\n' > /tmp/s.sh
chmod +x /tmp/s.sh
/tmp/s.sh a b; echo "exec script status=$?"
printf '#!/bin/sh -e\nfalse\necho not reached\n' > /tmp/e.sh
chmod +x /tmp/e.sh
/tmp/e.sh; echo "sh -e script status=$?"
printf '#!/nonexistent/interp\n' > /tmp/bad.sh; chmod +x /tmp/bad.sh
/tmp/bad.sh 2>/dev/null; echo "bad interpreter status=$?"
