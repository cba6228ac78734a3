# Signals from Python: handlers, SIGALRM from setitimer, EINTR retried (PEP 475) for sleep and
# read, pthread_kill to the main thread, sigwait/sigtimedwait with a blocked mask, set_wakeup_fd,
# SIGCHLD, SIGPIPE ignored by the interpreter (BrokenPipeError), signals to children.
import errno, os, signal, socket, subprocess, sys, threading, time

got = []
signal.signal(signal.SIGUSR1, lambda s, f: got.append(signal.Signals(s).name))
os.kill(os.getpid(), signal.SIGUSR1)
print("handler:", got)

alarms = []
signal.signal(signal.SIGALRM, lambda s, f: alarms.append(1))
signal.setitimer(signal.ITIMER_REAL, 0.05, 0.05)
t0 = time.monotonic()
while len(alarms) < 4:
    time.sleep(0.01)
signal.setitimer(signal.ITIMER_REAL, 0)
print("periodic itimer: 4 alarms")
print("getitimer after disarm:", signal.getitimer(signal.ITIMER_REAL))

signal.setitimer(signal.ITIMER_REAL, 0.05)
t0 = time.monotonic()
time.sleep(0.2)  # interrupted by SIGALRM, resumed by PEP 475
print("sleep resumed after EINTR, full duration:", time.monotonic() - t0 >= 0.19)
r, w = os.pipe()
def later():
    time.sleep(0.1)
    os.write(w, b"data")
threading.Thread(target=later).start()
signal.setitimer(signal.ITIMER_REAL, 0.03)
print("read retried after EINTR:", os.read(r, 10))

old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR2})
os.kill(os.getpid(), signal.SIGUSR2)
print("pending:", signal.Signals.SIGUSR2 in signal.sigpending())
print("sigwait:", signal.sigwait({signal.SIGUSR2}).name)
print("sigtimedwait timeout:", signal.sigtimedwait({signal.SIGUSR2}, 0.05))
signal.pthread_kill(threading.main_thread().ident, signal.SIGUSR2)
info = signal.sigtimedwait({signal.SIGUSR2}, 1)
print("sigtimedwait:", info.si_signo == signal.SIGUSR2, info.si_pid == os.getpid())
signal.pthread_sigmask(signal.SIG_SETMASK, old)

a, b = socket.socketpair()
a.setblocking(False)
b.setblocking(False)
signal.set_wakeup_fd(b.fileno())
os.kill(os.getpid(), signal.SIGUSR1)
print("wakeup fd byte:", a.recv(10) == bytes([signal.SIGUSR1]))
signal.set_wakeup_fd(-1)

chld = []
signal.signal(signal.SIGCHLD, lambda s, f: chld.append(1))
p = subprocess.Popen(["true"]); p.wait()
time.sleep(0.05)
print("SIGCHLD received:", len(chld) >= 1)
signal.signal(signal.SIGCHLD, signal.SIG_DFL)

print("SIGPIPE disposition in python:", signal.getsignal(signal.SIGPIPE) == signal.SIG_IGN)
r, w = os.pipe(); os.close(r)
try:
    os.write(w, b"x")
except BrokenPipeError as e:
    print("write to a closed pipe:", type(e).__name__, e.errno == errno.EPIPE)
p = subprocess.Popen(["sleep", "10"])
time.sleep(0.05)
p.send_signal(signal.SIGINT)
print("child SIGINT:", p.wait())
p = subprocess.Popen([sys.executable, "-c", "import signal,time; signal.signal(signal.SIGTERM, lambda s,f: exit(3)); print('ready', flush=True); time.sleep(10)"],
                     stdout=subprocess.PIPE)
p.stdout.readline()
p.terminate()
print("python child handling SIGTERM exits:", p.wait())
try:
    signal.signal(signal.SIGKILL, lambda s, f: None)
except OSError as e:
    print("catch SIGKILL:", e.errno == errno.EINVAL)
print("strsignal:", signal.strsignal(signal.SIGHUP))
print("done: ok")
