# Processes and system calls through the os module: fork/waitpid/waitstatus, exec, pipes and
# dup2, process groups and sessions, resource limits and usage, pwd/grp from /etc, ids,
# scheduling affinity, os.times, os.urandom, uname, umask, environment, /proc reads.
import grp, os, pwd, resource, sys, time

pid = os.fork()
if pid == 0:
    os._exit(9)
_, st = os.waitpid(pid, 0)
print("fork/waitpid:", os.waitstatus_to_exitcode(st))
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    os.close(r)
    os.dup2(w, 1)
    os.execv("/bin/echo", ["echo", "exec'd", "echo"])
os.close(w)
out = b""
while chunk := os.read(r, 100):
    out += chunk
os.waitpid(pid, 0)
print("exec into a pipe:", out)
pid = os.fork()
if pid == 0:
    os.setsid()
    os._exit(0 if os.getsid(0) == os.getpid() == os.getpgrp() else 1)
print("setsid child:", os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
print("pid 1, own group and session:", os.getpid(), os.getpgrp() == os.getpid(), os.getsid(0) == os.getpid())
print("ids:", os.getuid(), os.geteuid(), os.getgid(), os.getegid(), sorted(os.getgroups()))
print("pwd root:", pwd.getpwuid(0).pw_name, pwd.getpwuid(0).pw_dir, "grp 65534:", grp.getgrgid(65534).gr_name)
print("RLIMIT_NOFILE:", resource.getrlimit(resource.RLIMIT_NOFILE))
resource.setrlimit(resource.RLIMIT_NOFILE, (512, 1024))
print("lowered:", resource.getrlimit(resource.RLIMIT_NOFILE))
t0 = time.process_time()
x = sum(i * i for i in range(300000))
ru = resource.getrusage(resource.RUSAGE_SELF)
print("rusage maxrss > 0:", ru.ru_maxrss > 0)
print("os.times fields:", len(os.times()) == 5)
aff = os.sched_getaffinity(0)
print("affinity matches cpu_count:", len(aff) == os.cpu_count())
print("urandom:", len(os.urandom(32)), os.urandom(16) != os.urandom(16))
u = os.uname()
print("uname:", u.sysname, u.nodename, u.machine)
old = os.umask(0o027)
print("umask:", oct(os.umask(old)))
os.environ["MOAT_X"] = "1"
print("environ via a child:", os.popen("echo $MOAT_X").read().strip())
print("cmdline:", open("/proc/self/cmdline", "rb").read().split(b"\0")[1:3])
print("status Name:", [l for l in open("/proc/self/status").read().splitlines() if l.startswith("Name:")])
print("loadavg parts:", len(os.getloadavg()))
print("getpriority:", os.getpriority(os.PRIO_PROCESS, 0))
print("cwd:", os.getcwd())
os.chdir("/tmp")
print("chdir:", os.getcwd())
try:
    os.kill(999999, 0)
except ProcessLookupError:
    print("kill of a missing pid: ProcessLookupError")
print("done: ok")
