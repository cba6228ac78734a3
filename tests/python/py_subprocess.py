# subprocess: run with captured output, input, env and cwd; return codes and signals;
# CalledProcessError; timeouts; Popen with pipes and communicate; pipelines between
# children; pass_fds/close_fds; os.system and os.popen.
import os, signal, subprocess, sys

r = subprocess.run(["sh", "-c", "echo out; echo err >&2; exit 3"], capture_output=True, text=True)
print("run:", r.returncode, repr(r.stdout), repr(r.stderr))
r = subprocess.run(["tr", "a-z", "A-Z"], input=b"hello pipes", capture_output=True)
print("input:", r.stdout)
r = subprocess.run(["sh", "-c", "echo $FOO; pwd"], env={"FOO": "bar", "PATH": os.environ["PATH"]},
                   cwd="/tmp", capture_output=True, text=True)
print("env and cwd:", r.stdout.split())
try:
    subprocess.run(["false"], check=True)
except subprocess.CalledProcessError as e:
    print("check=True:", type(e).__name__, e.returncode)
try:
    subprocess.run(["sleep", "5"], timeout=0.3)
except subprocess.TimeoutExpired as e:
    print("timeout:", type(e).__name__)
try:
    subprocess.run(["/nonexistent/prog"])
except FileNotFoundError as e:
    print("missing program:", type(e).__name__, e.errno)
p = subprocess.Popen(["sleep", "10"])
p.send_signal(signal.SIGTERM)
print("killed by SIGTERM:", p.wait())
p = subprocess.Popen(["sh", "-c", "kill -KILL $$"])
print("killed itself with SIGKILL:", p.wait())

p = subprocess.Popen(["cat"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
out, _ = p.communicate(b"x" * 300000)
print("communicate 300000 bytes through cat:", len(out), p.returncode)
p1 = subprocess.Popen(["seq", "1", "1000"], stdout=subprocess.PIPE)
p2 = subprocess.Popen(["wc", "-l"], stdin=p1.stdout, stdout=subprocess.PIPE, text=True)
p1.stdout.close()
print("pipeline seq | wc -l:", p2.communicate()[0].strip(), p1.wait(), p2.returncode)
r, w = os.pipe()
os.set_inheritable(w, False)
p = subprocess.Popen(["sh", "-c", f"echo passed >&{w}"], pass_fds=(w,))
os.close(w)
p.wait()
print("pass_fds:", os.read(r, 100))
r2, w2 = os.pipe()
p = subprocess.Popen(["sh", "-c", f"echo leaked >&{w2} 2>/dev/null || echo closed"], stdout=subprocess.PIPE, text=True)
print("close_fds by default:", p.communicate()[0].strip())
print("os.system:", os.waitstatus_to_exitcode(os.system("exit 5")))
with os.popen("echo from popen") as f:
    print("os.popen:", f.read().strip())
print("check_output:", subprocess.check_output(["echo", "a", "b"]).split())
res = [subprocess.Popen(["sh", "-c", f"exit {i}"]) for i in range(10)]
print("ten children:", [p.wait() for p in res])
print("done: ok")
