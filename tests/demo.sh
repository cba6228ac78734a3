# The workload of `make demo` (busybox sh inside the sandbox).
echo "inside: uname -a     = $(uname -a)"
echo "inside: uname -r     = $(uname -r)   (the sentry's release, not the host's)"
echo "inside: pid=$$                        (the sandbox has its own pid namespace)"
echo "inside: hostname     = $(hostname)"
echo "written inside the sandbox" > /moat-demo-file
echo "inside: wrote /moat-demo-file: $(cat /moat-demo-file)"
ls -l /moat-demo-file
