#!/usr/bin/env python3
# Copied from the project's shared OCI runtime benchmark harness (shared/bench); keep in sync with it.
"""report.py OUTDIR - turn run.sh's raw.tsv/versions.tsv/meta.txt into markdown.

Statistics:
  * startup: per repetition, median and p90 (nearest rank) of the STARTUP_N
    wall-clock samples of `RT run` of /bin/true; across repetitions the
    median of those per-repetition values.
  * micro: one ns_per_op value per repetition (printed by the benchmark
    itself); the median across repetitions.
  * python in-container: ns per `python3 -c pass` fork+exec+wait measured by
    /bench/spawn_time inside the container (ms); median across repetitions.
  * python end-to-end: per repetition the median of PY_E2E_N wall-clock
    samples of `RT run` of python3 -c pass (ms); median across repetitions.
  * spread: min-max of the per-repetition values, and (max-min)/median.
"""
import collections
import math
import os
import statistics
import sys


def nearest_rank(xs, p):
    xs = sorted(xs)
    k = max(1, math.ceil(p / 100.0 * len(xs)))
    return xs[k - 1]


def fmt(v):
    if v is None:
        return "FAIL"
    a = abs(v)
    if a >= 100:
        return f"{v:,.0f}"
    if a >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def fmt_ratio(r):
    if r is None:
        return "–"
    if r >= 100:
        return f"{r:,.0f}x"
    if r >= 10:
        return f"{r:.1f}x"
    return f"{r:.2f}x"


def main():
    outdir = sys.argv[1]
    meta = {}
    with open(os.path.join(outdir, "meta.txt")) as f:
        for line in f:
            if "=" in line:
                k, v = line.rstrip("\n").split("=", 1)
                meta[k] = v
    runtimes = []  # (label, cmd, path, version, delflag)
    with open(os.path.join(outdir, "versions.tsv")) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) >= 5:
                runtimes.append(parts[:5])
    labels = [r[0] for r in runtimes]
    baseline = meta.get("baseline", "native")
    if baseline not in labels:
        baseline = None

    # raw[(metric, label)][rep] -> list of (sample, value|None, status)
    raw = collections.defaultdict(lambda: collections.defaultdict(list))
    failures = []
    preflight = {}
    with open(os.path.join(outdir, "raw.tsv")) as f:
        next(f)
        for line in f:
            phase, metric, label, rep, sample, value, status = line.rstrip("\n").split("\t", 6)
            val = float(value) if value and status == "ok" else None
            if phase == "preflight":
                preflight[label] = (val, status)
                continue
            raw[(metric, label)][int(rep)].append((int(sample), val, status))
            if val is None:
                failures.append((metric, label, rep, sample, status))

    reps_total = int(dict(x.split("=", 1) for x in meta.get("params", "").split() if "=" in x).get("REPS", 0) or 0)

    def per_rep(metric, label, how):
        """list of per-repetition values (None for failed repetitions)."""
        out = []
        for rep in sorted(raw[(metric, label)]):
            vals = [v for (_, v, _) in raw[(metric, label)][rep] if v is not None]
            if not vals:
                out.append(None)
            elif how == "median":
                out.append(statistics.median(vals))
            elif how == "p90":
                out.append(nearest_rank(vals, 90))
            else:
                out.append(vals[0])
        return out

    rows = []  # (key, row title, unit, {label: [per-rep values]})
    micros = meta.get("micros", "").split()

    def add(key, title, unit, metric, how, scale=1.0):
        if not any((metric, l) in raw for l in labels):
            return
        d = {}
        for l in labels:
            vs = per_rep(metric, l, how)
            d[l] = [None if v is None else v * scale for v in vs]
        rows.append((key, title, unit, d))

    add("startup median", "startup: `run` /bin/true, median", "ms", "startup", "median")
    add("startup p90", "startup: `run` /bin/true, p90", "ms", "startup", "p90")
    descr = {
        "getpid": "getpid (raw syscall)",
        "open_close": "open+close existing file",
        "stat": "stat existing file",
        "pipe_rt": "pipe 1-byte write+read",
        "pread_64k": "pread 64 KiB (cached)",
        "fork_wait": "fork+_exit+wait",
        "fork_exec": "fork+exec static nop+wait",
        "mmap_64k": "mmap+touch+munmap 64 KiB",
        "clock_gettime": "clock_gettime (vDSO)",
        "futex_pingpong": "2-thread futex round trip",
        "file_cwu": "create+write 4K+unlink",
        "getpid_mt1": "getpid, 1 thread, ns per call (throughput)",
        "getpid_mt2": "getpid, 2 threads, ns per call summed over threads",
        "getpid_mt4": "getpid, 4 threads, ns per call summed over threads",
    }
    for m in micros:
        add(m, f"{m}: {descr.get(m, m)}", "ns/op", m, "one")
    add("python in-container", "python3 -c pass, in-container spawn", "ms", "py_in", "one", 1e-6)
    add("python end-to-end", "python3 -c pass via `run`, end-to-end", "ms", "py_e2e", "median")
    add("memory sleep", "memory: idle container (`sleep`), PSS of the whole process tree", "MiB",
        "mem_sleep", "one", 1 / 1024)
    add("memory python", "memory: `python3` sleeping, PSS of the whole process tree", "MiB",
        "mem_py", "one", 1 / 1024)
    add("pod start", "pod (CRI): RunPodSandbox to a started container", "ms", "pod_start", "one")
    add("pod pss 1", "pod (CRI): PSS of a pod with 1 container (shim + pod cgroups)", "MiB",
        "pod_pss1", "one", 1 / 1024)
    add("pod pss 3", "pod (CRI): PSS of a pod with 3 containers (shim + pod cgroups)", "MiB",
        "pod_pss3", "one", 1 / 1024)

    def summary(vs):
        ok = [v for v in vs if v is not None]
        if not ok:
            return None, None, None, 0, len(vs)
        return statistics.median(ok), min(ok), max(ok), len(ok), len(vs)

    p = print
    p(f"# OCI runtime peer comparison — {meta.get('date_utc', '?')}")
    p()
    p("## Machine")
    p()
    for k, title in [("date_utc", "date (UTC)"), ("host", "host"), ("kernel", "kernel"),
                     ("nproc", "nproc"), ("cpu", "CPU"), ("mem", "memory"), ("os", "OS"),
                     ("virt", "virtualisation"), ("load", "load"), ("spin_idle", "idle spinners (SPIN_IDLE)"), ("cgroup", "cgroups"), ("gcc", "compiler"),
                     ("python", "python in bundle"), ("params", "parameters"),
                     ("duration_s", "measurement time (s)")]:
        if k in meta:
            p(f"- **{title}**: {meta[k]}")
    p()
    p("## Runtimes")
    p()
    p("| column | command | binary | version | preflight |")
    p("| --- | --- | --- | --- | --- |")
    for label, cmd, path, ver, delflag in runtimes:
        pf = preflight.get(label)
        pfs = "?" if pf is None else ("ok" if pf[0] is not None else pf[1])
        shown = "chroot ROOTFS CMD" if cmd == "native" else f"{cmd} run --bundle B ID; {cmd} delete {delflag} ID"
        p(f"| {label} | `{shown}` | `{path}` | {ver} | {pfs} |")
    p()
    p("## Method")
    p()
    p("- Bundle: `mkbundle.sh` (busybox-static rootfs, static `gcc -O2` micro benchmarks in "
      "/bench, host python3 + ldd-copied libs + stdlib). `config.json` is `runc spec` with "
      "terminal=false, writable root; namespaces pid/net/ipc/uts/mount, no seccomp profile, "
      "runc's default capabilities. Only args/env/root path differ per measurement.")
    p("- `native` = the same binary on the host via `chroot ROOTFS` (no namespaces, no cgroup).")
    p("- startup: wall time of `RT run --bundle B ID` for /bin/true, taken with CLOCK_MONOTONIC "
      "by the host helper `timed` (fork → exec → reap; it also enforces the timeout); "
      "`delete` is outside the timed region.")
    p("- micro: `RT run` of one benchmark binary; the binary times its own loop with "
      "clock_gettime(CLOCK_MONOTONIC) and prints `name ns_per_op=N` (container start-up excluded).")
    p("- python in-container: /bench/spawn_time fork+exec+waits `python3 -c pass` PY_N times inside "
      "the container; end-to-end: wall time of `RT run` of `python3 -c pass`.")
    p("- memory: the container (or native process) is started in the background and, MEM_SETTLE "
      "seconds later, the proportional set size (smaps_rollup Pss) of the runtime command's whole "
      "process tree is summed: runtime CLI, sandbox/sentry, gofer, stubs and the workload.")
    p("- pod (CRI, moat's addition): tests/tests/cri.rs `cri_pod_bench` drives a private containerd's "
      "CRI plugin as kubelet does, per handler (runc: runc's shim; moat: the moat shim "
      "`io.containerd.moat.v1`; runsc: runc's shim running runsc, without network): "
      "RunPodSandbox + CreateContainer + StartContainer of `sleep 3600` timed; MEM_SETTLE s later the PSS "
      "of every process in the pod's cgroups plus its shim; then two more containers and again.")
    p("- Every repetition runs every runtime; the runtime order rotates between repetitions. "
      "Scratch files (file_cwu) live in /bench/scratch, a plain rootfs directory (runsc puts a "
      "tmpfs on /tmp).")
    p()
    nrep = reps_total or "?"
    p(f"## Results (median of {nrep} repetitions; lower is better)")
    p()
    others = [l for l in labels if l != baseline] if baseline else []
    hdr = ["benchmark", "unit"] + labels + [f"{l}/{baseline}" for l in others]
    p("| " + " | ".join(hdr) + " |")
    p("| --- | --- | " + " | ".join(["---:"] * (len(hdr) - 2)) + " |")
    for key, title, unit, d in rows:
        cells = [title, unit]
        meds = {}
        for l in labels:
            med, lo, hi, nok, n = summary(d[l])
            meds[l] = med
            # n == 0: not measured for this column (the pod rows have CRI handlers only).
            c = fmt(med) if n else "n/a"
            if med is not None and nok < n:
                c += f" ({nok}/{n} ok)"
            cells.append(c)
        for l in others:
            b = meds.get(baseline)
            r = meds[l] / b if (meds[l] is not None and b) else None
            cells.append(fmt_ratio(r))
        p("| " + " | ".join(cells) + " |")
    p()
    p("## Spread over repetitions: min – max (and (max−min)/median)")
    p()
    p("| benchmark | " + " | ".join(labels) + " |")
    p("| --- | " + " | ".join(["---:"] * len(labels)) + " |")
    for key, title, unit, d in rows:
        cells = [f"{key} ({unit})"]
        for l in labels:
            med, lo, hi, nok, n = summary(d[l])
            if n == 0:
                cells.append("n/a")
            elif med is None:
                cells.append("FAIL")
            else:
                sp = (hi - lo) / med * 100 if med else 0.0
                cells.append(f"{fmt(lo)} – {fmt(hi)} ({sp:.0f}%)")
        p("| " + " | ".join(cells) + " |")
    p()
    iters = collections.defaultdict(list)
    ipath = os.path.join(outdir, "iters.tsv")
    if os.path.exists(ipath):
        with open(ipath) as f:
            for line in f:
                parts = line.rstrip("\n").split("\t")
                if len(parts) == 4 and parts[3].isdigit():
                    iters[(parts[0], parts[1])].append(int(parts[3]))
    if iters:
        p("## Timed iterations per micro run (median over repetitions)")
        p()
        p("Each micro runs its default iteration count (sized for ~1 s natively) "
          "unless the MICRO_MAX_SEC cap stops it earlier; fewer iterations = the cap hit.")
        p()
        p("| micro | " + " | ".join(labels) + " |")
        p("| --- | " + " | ".join(["---:"] * len(labels)) + " |")
        for m in micros:
            cells = [m]
            for l in labels:
                xs = iters.get((m, l))
                cells.append(f"{int(statistics.median(xs)):,}" if xs else "–")
            p("| " + " | ".join(cells) + " |")
        p()
    p("## Failures")
    p()
    if not failures and all(v[0] is not None for v in preflight.values()):
        p("None.")
    else:
        for label, (val, st) in preflight.items():
            if val is None:
                p(f"- preflight `{label}`: {st} — all its measurements were skipped (FAIL)")
        grouped = collections.OrderedDict()
        for metric, label, rep, sample, status in failures:
            if status == "FAIL runtime broken in preflight":
                continue  # one line per runtime above is enough
            grouped.setdefault((metric, label, status), []).append(f"r{rep}" + (f"s{sample}" if sample != "0" else ""))
        for (metric, label, status), where in grouped.items():
            shown = ", ".join(where[:6]) + (f", … ({len(where)} total)" if len(where) > 6 else "")
            p(f"- `{metric}` on `{label}` [{shown}]: {status}")
    p()


if __name__ == "__main__":
    main()
