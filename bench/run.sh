#!/usr/bin/env bash
# Copied from the project's shared OCI runtime benchmark harness (shared/bench); moat adds the memory phase (tools/pss_tree.py).
# run.sh - peer comparison of OCI container runtimes (startup latency,
# syscall/file/process microbenchmarks, python3 start-up).
#
# usage: [VAR=value ...] ./run.sh
#
# RUNTIMES   runtimes to compare (default "native runc crun runsc").
#            Entries are separated by ';' or newlines when RUNTIMES contains
#            either, otherwise by whitespace.  Each entry is
#              native              run the command directly on the host,
#                                  chrooted into the bundle's rootfs
#              CMD [FLAGS...]      a runc-compatible CLI: `CMD FLAGS run
#                                  --bundle B ID` / `CMD FLAGS delete -f ID`
#              LABEL=CMD [FLAGS]   same, with an explicit column label
#            Bare `runsc` means "$RUNSC_DEFAULT" (default
#            "runsc --network=none"); other bare names are used as given.
#            Flags may not contain spaces.  Example:
#              RUNTIMES='native; runc; mysbx=/opt/mysbx/bin/mysbx --debug=false'
# REPS             repetitions of every measurement (default 3); the report
#                  gives the median over repetitions and their spread.
# STARTUP_N        `run /bin/true` samples per repetition (default 20)
# MICRO            micro benchmarks to run (default: all in bundle)
# MICRO_ITERS      iteration count passed to every micro (default: each
#                  binary's own default, sized for ~1 s natively)
# MICRO_MAX_SEC    per-run cap on a micro's timed loop (default 3), so that
#                  slow sandboxes (gVisor ptrace: ~100x per syscall) finish
# PY_N             python3 -c pass spawns per in-container measurement (10)
# PY_E2E_N         `RT run python3 -c pass` samples per repetition (10)
# PHASES           subset of "startup micro python memory pod" (default all five)
# pod              (moat) Kubernetes pods through containerd's CRI plugin: the
#                  CRI handlers runc, moat (the moat shim) and runsc (runc's shim
#                  running runsc), REPS pods each, run by tests/tests/cri.rs
#                  (cri_pod_bench) with MOAT_BIN and MOAT_TEST_ROOTFS; reported
#                  in the columns labelled runc, moat and runsc
# MEM_SETTLE       memory phase: seconds between starting a container and
#                  measuring it (default 2); the workload sleeps 2 s longer
# TIMEOUT_STARTUP  seconds for one `run` of /bin/true or python (default 30)
# TIMEOUT_MICRO    seconds for one micro run (default 120)
# BUNDLE           bundle dir (default /var/tmp/oci-bench/bundle); built by
#                  mkbundle.sh (--python unless WITH_PYTHON=0) when missing
#                  or older than the sources
# OUTDIR           raw data, logs, report (default
#                  /var/tmp/oci-bench/results/<timestamp>)
# OUT              also copy the markdown report to this file
# BASELINE         label used for the ratio columns (default native)
# CGROUP_HYBRID_FIX auto (default) | none.  On cgroup v1 "hybrid" hosts
#                  whose cgroup2 mount has controllers (here: hugetlb) crun
#                  refuses to start ("cgroups in hybrid mode not supported,
#                  drop all controllers from cgroupv2").  With auto, run.sh
#                  re-executes itself in a private mount namespace
#                  (unshare -m) and bind-mounts an empty file over
#                  /sys/fs/cgroup/unified/cgroup.controllers there.  Nothing
#                  changes on the host; all runtimes see the same view.
# SPIN_IDLE        0 (default) | 1: keep one SCHED_IDLE busy loop per CPU
#                  running during the measurements (killed at the end).  On
#                  VMs whose idle vCPUs halt (here: haltpoll with polling
#                  off, nested PVM), every cross-CPU wake-up of an idle vCPU
#                  costs tens of microseconds; that dominates gVisor-ptrace
#                  syscalls and futex ping-pong and makes them swing 2-4x
#                  with the machine's load.  Spinners in the idle class
#                  yield at once to any real work but keep vCPUs awake.
#
# Output: markdown report on stdout (and $OUTDIR/report.md); progress and
# errors on stderr.  A measurement that fails or times out is reported as
# FAIL; the script itself keeps going.  Container ids are unique
# (ocib-<pid>-<n>) and every container is `delete -f`'d after its run
# (`delete --force` for runtimes whose flag parser wants that, e.g. runsc).
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
case "${1:-}" in
    -h|--help) sed -n '2,/^set -uo/p' "$0" | sed 's/^# \{0,1\}//;$d'; exit 0 ;;
    "") ;;
    *) echo "run.sh takes no arguments (configure with environment variables; see --help)" >&2; exit 2 ;;
esac
: "${RUNTIMES:=native runc crun runsc}"
: "${RUNSC_DEFAULT:=runsc --network=none}"
: "${REPS:=3}"
: "${STARTUP_N:=20}"
: "${MICRO:=}"
: "${MICRO_ITERS:=}"
: "${MICRO_MAX_SEC:=3}"
: "${PY_N:=10}"
: "${PY_E2E_N:=10}"
: "${PHASES:=startup micro python memory pod}"
: "${MEM_SETTLE:=2}"
: "${TIMEOUT_STARTUP:=30}"
: "${TIMEOUT_MICRO:=120}"
: "${BUNDLE:=/var/tmp/oci-bench/bundle}"
: "${WITH_PYTHON:=1}"
: "${OUTDIR:=/var/tmp/oci-bench/results/$(date +%Y%m%d-%H%M%S)}"
: "${OUT:=}"
: "${BASELINE:=native}"
: "${CGROUP_HYBRID_FIX:=auto}"
: "${HOST_PYTHON:=python3}"
: "${SPIN_IDLE:=0}"
export RUNTIMES RUNSC_DEFAULT REPS STARTUP_N MICRO MICRO_ITERS MICRO_MAX_SEC PY_N PY_E2E_N \
    PHASES MEM_SETTLE TIMEOUT_STARTUP TIMEOUT_MICRO BUNDLE WITH_PYTHON OUTDIR OUT BASELINE \
    CGROUP_HYBRID_FIX HOST_PYTHON SPIN_IDLE

log() { printf '[run.sh %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (runtimes, chroot, mount)"
for t in chroot unshare mount "$HOST_PYTHON"; do
    command -v "$t" >/dev/null || die "$t not found"
done

# --- cgroup v1 hybrid workaround (see header) ----------------------------------
hybrid_needs_fix() {
    [ "$(stat -fc %T /sys/fs/cgroup 2>/dev/null)" = tmpfs ] &&
        [ "$(stat -fc %T /sys/fs/cgroup/unified 2>/dev/null)" = cgroup2fs ] &&
        [ -n "$(cat /sys/fs/cgroup/unified/cgroup.controllers 2>/dev/null)" ]
}
CGROUP_NOTE="no change (cgroup layout: $(stat -fc %T /sys/fs/cgroup 2>/dev/null))"
if [ "${_OCIB_IN_NS:-}" != 1 ] && [ "$CGROUP_HYBRID_FIX" = auto ] && hybrid_needs_fix; then
    log "cgroup v1 hybrid with controllers in cgroup2 ($(tr '\n' ' ' </sys/fs/cgroup/unified/cgroup.controllers)); re-executing in a private mount namespace"
    exec unshare --mount --propagation private env _OCIB_IN_NS=1 bash "$0" "$@"
fi
mkdir -p "$OUTDIR/logs" "$OUTDIR/cfg" || die "cannot create $OUTDIR"
if [ "${_OCIB_IN_NS:-}" = 1 ]; then
    orig="$(tr '\n' ' ' </sys/fs/cgroup/unified/cgroup.controllers)"
    : >"$OUTDIR/empty-cgroup.controllers"
    mount --bind "$OUTDIR/empty-cgroup.controllers" /sys/fs/cgroup/unified/cgroup.controllers ||
        die "bind mount over cgroup.controllers failed"
    CGROUP_NOTE="v1 hybrid; cgroup2 (unified) had controllers [${orig% }]; masked with an empty cgroup.controllers in a private mount namespace (unshare -m) for the whole run"
fi

# --- bundle ----------------------------------------------------------------------
mb_args=(--no-rebuild)
[ "$WITH_PYTHON" = 1 ] && mb_args+=(--python)
"$HERE/mkbundle.sh" "${mb_args[@]}" "$BUNDLE" || die "mkbundle.sh failed"
ROOTFS="$BUNDLE/rootfs"
TIMED="$BUNDLE/host/timed" # timeout + CLOCK_MONOTONIC wall time (tools/timed.c)
[ -x "$TIMED" ] || die "$TIMED missing (rebuild the bundle)"
HAVE_PY=0
[ -e "$ROOTFS/bench/python3" ] && [ "$WITH_PYTHON" = 1 ] && HAVE_PY=1
if [ -z "$MICRO" ]; then MICRO="$(tr '\n' ' ' <"$ROOTFS/bench/LIST")"; fi
read -r -a MICROS <<<"$MICRO"
for m in "${MICROS[@]}"; do [ -x "$ROOTFS/bench/$m" ] || die "no benchmark $m in $ROOTFS/bench"; done

# Environment of every benchmark process, container or native.
# BENCH_DIR: scratch files live in a plain rootfs directory.  Not /tmp:
# runsc mounts its own tmpfs on /tmp when the spec has none, which would
# compare gVisor-tmpfs against host ext4.
BENCH_ENV=(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin TERM=xterm BENCH_DIR=/bench/scratch)
mkdir -p "$ROOTFS/bench/scratch" && chmod 1777 "$ROOTFS/bench/scratch"

# --- per-measurement configs (only args/root/env differ from config.json) -----
declare -A CFG_ARGS
mkcfg() { # mkcfg NAME ARG...
    local name="$1"; shift
    CFG_ARGS[$name]="$*"
    mkdir -p "$OUTDIR/cfg/$name"
    "$HOST_PYTHON" - "$BUNDLE/config.json" "$ROOTFS" "$OUTDIR/cfg/$name/config.json" \
        "${#BENCH_ENV[@]}" "${BENCH_ENV[@]}" "$@" <<'EOF' || die "cannot write config $name"
import json, sys
src, root, dst, nenv = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
env, args = sys.argv[5:5 + nenv], sys.argv[5 + nenv:]
c = json.load(open(src))
c["root"]["path"] = root
c["process"]["args"] = args
c["process"]["env"] = env
c["process"]["terminal"] = False
json.dump(c, open(dst, "w"), indent=2)
EOF
}
mkcfg startup /bin/true
for m in "${MICROS[@]}"; do
    if [ -n "$MICRO_ITERS" ]; then mkcfg "micro_$m" "/bench/$m" "$MICRO_ITERS" "$MICRO_MAX_SEC"
    else mkcfg "micro_$m" "/bench/$m" "" "$MICRO_MAX_SEC"; fi
done
mem_sleep=$((MEM_SETTLE + 2))
mkcfg mem_sleep /bin/sleep "$mem_sleep"
if [ "$HAVE_PY" = 1 ]; then
    mkcfg mem_py /bench/python3 -c "import time; time.sleep($mem_sleep)"
    mkcfg py_in /bench/spawn_time python3_pass "$PY_N" 30 /bench/python3 -c pass
    mkcfg py_e2e /bench/python3 -c pass
fi

# --- runtimes ----------------------------------------------------------------------
LABELS=() CMDS=() DELFLAG=() BROKEN=()
if [[ "$RUNTIMES" == *";"* || "$RUNTIMES" == *$'\n'* ]]; then
    mapfile -t _entries < <(printf '%s\n' "$RUNTIMES" | tr ';' '\n')
else
    read -r -a _entries <<<"$RUNTIMES"
fi
for e in "${_entries[@]}"; do
    e="$(printf '%s' "$e" | sed 's/^[[:space:]]*//; s/[[:space:]]*$//')"
    [ -n "$e" ] || continue
    label=""
    if [[ "$e" =~ ^([A-Za-z0-9_.+:-]+)=(.+)$ ]] && [[ "${BASH_REMATCH[1]}" != -* ]]; then
        label="${BASH_REMATCH[1]}"; e="${BASH_REMATCH[2]}"
    fi
    [ "$e" = runsc ] && e="$RUNSC_DEFAULT"
    if [ -z "$label" ]; then
        if [ "$e" = native ]; then label=native; else label="$(basename "${e%% *}")"; fi
    fi
    base="$label" k=2
    while printf '%s\n' "${LABELS[@]+"${LABELS[@]}"}" | grep -qxF -- "$label"; do label="$base#$k"; k=$((k + 1)); done
    LABELS+=("$label") CMDS+=("$e") DELFLAG+=("-f") BROKEN+=("")
done
NRT=${#LABELS[@]}
[ "$NRT" -gt 0 ] || die "RUNTIMES is empty"

RAW="$OUTDIR/raw.tsv"
printf 'phase\tmetric\truntime\trep\tsample\tvalue\tstatus\n' >"$RAW"
SEQ=0
CUR_ID="" CUR_RT=""

rt_delete() { # rt_delete IDX ID
    local -a c
    read -r -a c <<<"${CMDS[$1]}"
    "$TIMED" -t 30 -k 5 -o /dev/null -- "${c[@]}" delete "${DELFLAG[$1]}" "$2" >/dev/null 2>&1 || true
}
cleanup_current() {
    if [ -n "$CUR_ID" ]; then rt_delete "$CUR_RT" "$CUR_ID"; CUR_ID=""; fi
}
on_signal() { log "interrupted; cleaning up"; cleanup_current; exit 130; }
trap on_signal INT TERM
trap cleanup_current EXIT

# run_one IDX CFG TIMEOUT OUTFILE ERRFILE  -> sets RUN_RC, RUN_MS (wall ms)
# Wall time is taken by $TIMED around the command with CLOCK_MONOTONIC (fork
# to reap), so it includes one fork+exec of the command, like coreutils
# `timeout` would, and is immune to CLOCK_REALTIME steps.
ELAPSED="$OUTDIR/.elapsed"
run_one() {
    local i="$1" cfg="$2" to="$3" out="$4" err="$5" ns
    local -a c args
    : >"$ELAPSED"
    if [ "${CMDS[$i]}" = native ]; then
        read -r -a args <<<"${CFG_ARGS[$cfg]}"
        # micro configs carry an empty ITERS placeholder; rebuild exactly
        if [[ "$cfg" == micro_* ]]; then
            args=("/bench/${cfg#micro_}")
            if [ -n "$MICRO_ITERS" ]; then args+=("$MICRO_ITERS"); else args+=(""); fi
            args+=("$MICRO_MAX_SEC")
        fi
        "$TIMED" -t "$to" -k 5 -o "$ELAPSED" -- env -i "${BENCH_ENV[@]}" chroot "$ROOTFS" "${args[@]}" \
            </dev/null >"$out" 2>"$err"
        RUN_RC=$?
    else
        read -r -a c <<<"${CMDS[$i]}"
        SEQ=$((SEQ + 1))
        CUR_ID="ocib-$$-$SEQ" CUR_RT="$i"
        "$TIMED" -t "$to" -k 5 -o "$ELAPSED" -- "${c[@]}" run --bundle "$OUTDIR/cfg/$cfg" "$CUR_ID" \
            </dev/null >"$out" 2>"$err"
        RUN_RC=$?
        cleanup_current
    fi
    read -r ns <"$ELAPSED" || ns=""
    if [[ "$ns" =~ ^[0-9]+$ ]]; then
        RUN_MS="$(awk -v n="$ns" 'BEGIN { printf "%.3f", n / 1e6 }')"
    else
        RUN_MS=""
        [ "$RUN_RC" = 0 ] && RUN_RC=125
    fi
    if [ "$RUN_RC" = 124 ] || [ "$RUN_RC" = 137 ]; then
        echo "run.sh: TIMEOUT after ${to}s (rc=$RUN_RC)" >>"$err"
    fi
}

# mem_one IDX CFG -> sets MEM_KIB (empty on failure), MEM_ERR
# Starts the container (or the native process) in the background, waits MEM_SETTLE s,
# then sums the PSS of the runtime's whole process tree (runtime CLI, sandbox, gofer,
# sentry, stubs, workload: everything the container costs the host), and waits for it.
mem_one() {
    local i="$1" cfg="$2" pid out rc
    local -a c args
    MEM_KIB="" MEM_ERR=""
    if [ "${CMDS[$i]}" = native ]; then
        read -r -a args <<<"${CFG_ARGS[$cfg]}"
        if [ "$cfg" = mem_py ]; then args=(/bench/python3 -c "import time; time.sleep($mem_sleep)"); fi
        env -i "${BENCH_ENV[@]}" chroot "$ROOTFS" "${args[@]}" </dev/null >/dev/null 2>&1 &
        pid=$!
    else
        read -r -a c <<<"${CMDS[$i]}"
        SEQ=$((SEQ + 1))
        CUR_ID="ocib-$$-$SEQ" CUR_RT="$i"
        "${c[@]}" run --bundle "$OUTDIR/cfg/$cfg" "$CUR_ID" </dev/null >/dev/null 2>"$OUTDIR/.mem.err" &
        pid=$!
    fi
    sleep "$MEM_SETTLE"
    out="$("$HOST_PYTHON" "$HERE/tools/pss_tree.py" "$pid")"
    timeout $((mem_sleep + 30)) tail --pid="$pid" -f /dev/null
    wait "$pid"; rc=$?
    cleanup_current
    local kib="${out#pss_kib=}"; kib="${kib%% *}"
    MEM_PROCS="${out##*procs=}"
    if [ "$rc" = 0 ] && [[ "$kib" =~ ^[0-9]+$ ]] && [ "$kib" -gt 0 ]; then
        MEM_KIB="$kib"
    else
        MEM_ERR="rc=$rc ${out} $(errtail "$OUTDIR/.mem.err" 2>/dev/null)"
    fi
}

record() { # record PHASE METRIC IDX REP SAMPLE VALUE STATUS
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "${LABELS[$3]}" "$4" "$5" "$6" "$7" >>"$RAW"
}
errtail() { tail -n 3 "$1" 2>/dev/null | tr '\n\t' '  ' | cut -c1-300; }

# --- preflight: versions, delete spelling, /bin/true smoke test ----------------------
VERS="$OUTDIR/versions.tsv"
: >"$VERS"
for ((i = 0; i < NRT; i++)); do
    if [ "${CMDS[$i]}" = native ]; then
        v="chroot: $(chroot --version | head -n1)"
        p="$(command -v chroot)"
    else
        read -r -a c <<<"${CMDS[$i]}"
        p="$(readlink -f "$(command -v "${c[0]}")" 2>/dev/null || echo "${c[0]}")"
        v="$(timeout 20 "${c[0]}" --version 2>&1 | head -n 4 | tr '\n' ';' | sed 's/;$//; s/;/; /g' | cut -c1-200)"
        [ -n "$v" ] || v="unknown (--version failed)"
        # runc/crun accept `delete -f`; Go-flag CLIs (runsc) want -force.
        probe="$(timeout 20 "${c[@]}" delete -f "ocib-$$-probe" 2>&1)"
        if [[ "$probe" == *"flag provided but not defined"* ]]; then DELFLAG[$i]="--force"; fi
    fi
    printf '%s\t%s\t%s\t%s\t%s\n' "${LABELS[$i]}" "${CMDS[$i]}" "$p" "$v" "${DELFLAG[$i]}" >>"$VERS"
    run_one "$i" startup "$TIMEOUT_STARTUP" "$OUTDIR/logs/${LABELS[$i]}-preflight.out" \
        "$OUTDIR/logs/${LABELS[$i]}-preflight.err"
    if [ "$RUN_RC" != 0 ]; then
        BROKEN[$i]="rc=$RUN_RC: $(errtail "$OUTDIR/logs/${LABELS[$i]}-preflight.err")"
        log "runtime ${LABELS[$i]} ('${CMDS[$i]}') FAILED preflight: ${BROKEN[$i]} -- all its cells will be FAIL"
        record preflight preflight "$i" 0 0 "" "FAIL ${BROKEN[$i]}"
    else
        log "runtime ${LABELS[$i]} ('${CMDS[$i]}') ok (${RUN_MS} ms)"
        record preflight preflight "$i" 0 0 "$RUN_MS" ok
    fi
done

has_phase() { [[ " $PHASES " == *" $1 "* ]]; }
order_for_rep() { # prints runtime indices rotated by rep (spreads drift/order bias)
    local rep="$1" k
    for ((k = 0; k < NRT; k++)); do echo $(((k + rep - 1) % NRT)); done
}
fail_all() { # fail_all PHASE METRIC IDX REP
    record "$1" "$2" "$3" "$4" 0 "" "FAIL runtime broken in preflight"
}

# CPU accounting, to judge how much other work shared the machine:
# host busy jiffies from /proc/stat vs. CPU time of this script's reaped
# children (bash `times`; includes runtimes and containers they reap).
NCPU=$(nproc)
HZ=$(getconf CLK_TCK 2>/dev/null || echo 100)
SPIN_PIDS=()
cpu_snap() { # sets SNAP_BUSY (s), SNAP_CHILD (s; incl. spinners), SNAP_T (s)
    local _c u n s _i _w irq sirq st _r spin=0 p
    read -r _c u n s _i _w irq sirq st _r </proc/stat
    SNAP_BUSY=$(awk -v b=$((u + n + s + irq + sirq + st)) -v hz="$HZ" 'BEGIN { print b / hz }')
    for p in "${SPIN_PIDS[@]+"${SPIN_PIDS[@]}"}"; do
        spin=$((spin + $(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null || echo 0)))
    done
    times >"$OUTDIR/.times"
    SNAP_CHILD=$(tail -n 1 "$OUTDIR/.times" | awk -v sp="$spin" -v hz="$HZ" '{ t = sp / hz; for (f = 1; f <= 2; f++) { split($f, a, "m"); sub(/s$/, "", a[2]); t += a[1] * 60 + a[2] } print t }')
    SNAP_T=$EPOCHREALTIME
}
stop_spinners() {
    local p
    for p in "${SPIN_PIDS[@]+"${SPIN_PIDS[@]}"}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    SPIN_PIDS=()
}
trap 'cleanup_current; stop_spinners' EXIT
if [ "$SPIN_IDLE" = 1 ]; then
    command -v chrt >/dev/null || die "SPIN_IDLE=1 needs chrt (util-linux)"
    for ((k = 0; k < NCPU; k++)); do
        chrt --idle 0 bash -c 'while :; do :; done' </dev/null >/dev/null 2>&1 &
        SPIN_PIDS+=("$!")
    done
    log "SPIN_IDLE=1: started SCHED_IDLE spinners (pids ${SPIN_PIDS[*]})"
fi
T_START=$(date +%s)
LOAD_NOTES="per rep: 1-min loadavg at start; host CPU busy % of ${NCPU} CPUs during the rep; estimated share used by processes outside this harness (busy minus the harness' own reaped children; approximate):"
for ((rep = 1; rep <= REPS; rep++)); do
    mapfile -t ORDER < <(order_for_rep "$rep")
    rep_load="$(cut -d' ' -f1 /proc/loadavg)"
    log "rep $rep/$REPS: loadavg $(cut -d' ' -f1-3 /proc/loadavg)"
    cpu_snap; b0=$SNAP_BUSY c0=$SNAP_CHILD t0=$SNAP_T
    if has_phase startup; then
        for i in "${ORDER[@]}"; do
            lbl="${LABELS[$i]}"
            if [ -n "${BROKEN[$i]}" ]; then fail_all startup startup "$i" "$rep"; continue; fi
            nok=0
            for ((s = 1; s <= STARTUP_N; s++)); do
                err="$OUTDIR/logs/$lbl-startup-r$rep-s$s.err"
                run_one "$i" startup "$TIMEOUT_STARTUP" /dev/null "$err"
                if [ "$RUN_RC" = 0 ]; then
                    record startup startup "$i" "$rep" "$s" "$RUN_MS" ok; nok=$((nok + 1)); rm -f "$err"
                else
                    record startup startup "$i" "$rep" "$s" "" "FAIL rc=$RUN_RC $(errtail "$err")"
                fi
            done
            log "rep $rep/$REPS startup $lbl: $nok/$STARTUP_N ok"
        done
    fi
    if has_phase micro; then
        for m in "${MICROS[@]}"; do
            for i in "${ORDER[@]}"; do
                lbl="${LABELS[$i]}"
                if [ -n "${BROKEN[$i]}" ]; then fail_all micro "$m" "$i" "$rep"; continue; fi
                out="$OUTDIR/logs/$lbl-$m-r$rep.out" err="$OUTDIR/logs/$lbl-$m-r$rep.err"
                run_one "$i" "micro_$m" "$TIMEOUT_MICRO" "$out" "$err"
                v="$(awk -v n="$m" '$1 == n { for (f = 2; f <= NF; f++) if ($f ~ /^ns_per_op=/) { sub(/^ns_per_op=/, "", $f); print $f; exit } }' "$out")"
                it="$(sed -n "s/^# $m iters=\([0-9]*\) .*/\1/p" "$err" | head -n1)"
                printf '%s\t%s\t%s\t%s\n' "$m" "$lbl" "$rep" "${it:-?}" >>"$OUTDIR/iters.tsv"
                if [ "$RUN_RC" = 0 ] && [[ "$v" =~ ^[0-9.]+$ ]]; then
                    record micro "$m" "$i" "$rep" 0 "$v" ok
                    log "rep $rep/$REPS $m $lbl: $v ns/op"
                else
                    record micro "$m" "$i" "$rep" 0 "" "FAIL rc=$RUN_RC $(errtail "$err")"
                    log "rep $rep/$REPS $m $lbl: FAIL rc=$RUN_RC $(errtail "$err")"
                fi
            done
        done
    fi
    if has_phase python && [ "$HAVE_PY" = 1 ]; then
        for i in "${ORDER[@]}"; do
            lbl="${LABELS[$i]}"
            if [ -n "${BROKEN[$i]}" ]; then
                fail_all python py_in "$i" "$rep"; fail_all python py_e2e "$i" "$rep"; continue
            fi
            out="$OUTDIR/logs/$lbl-py_in-r$rep.out" err="$OUTDIR/logs/$lbl-py_in-r$rep.err"
            run_one "$i" py_in "$TIMEOUT_MICRO" "$out" "$err"
            v="$(awk '$1 == "python3_pass" { sub(/^ns_per_op=/, "", $2); print $2 }' "$out")"
            if [ "$RUN_RC" = 0 ] && [[ "$v" =~ ^[0-9.]+$ ]]; then
                record python py_in "$i" "$rep" 0 "$v" ok
            else
                record python py_in "$i" "$rep" 0 "" "FAIL rc=$RUN_RC $(errtail "$err")"
            fi
            nok=0
            for ((s = 1; s <= PY_E2E_N; s++)); do
                err="$OUTDIR/logs/$lbl-py_e2e-r$rep-s$s.err"
                run_one "$i" py_e2e "$TIMEOUT_STARTUP" /dev/null "$err"
                if [ "$RUN_RC" = 0 ]; then
                    record python py_e2e "$i" "$rep" "$s" "$RUN_MS" ok; nok=$((nok + 1)); rm -f "$err"
                else
                    record python py_e2e "$i" "$rep" "$s" "" "FAIL rc=$RUN_RC $(errtail "$err")"
                fi
            done
            log "rep $rep/$REPS python $lbl: in-container ${v:-FAIL} ns, e2e $nok/$PY_E2E_N ok"
        done
    fi
    if has_phase memory; then
        mem_cfgs=(mem_sleep)
        [ "$HAVE_PY" = 1 ] && mem_cfgs+=(mem_py)
        for mc in "${mem_cfgs[@]}"; do
            for i in "${ORDER[@]}"; do
                lbl="${LABELS[$i]}"
                if [ -n "${BROKEN[$i]}" ]; then fail_all memory "$mc" "$i" "$rep"; continue; fi
                mem_one "$i" "$mc"
                if [ -n "$MEM_KIB" ]; then
                    record memory "$mc" "$i" "$rep" 0 "$MEM_KIB" ok
                    log "rep $rep/$REPS $mc $lbl: $MEM_KIB KiB PSS in $MEM_PROCS processes"
                else
                    record memory "$mc" "$i" "$rep" 0 "" "FAIL $MEM_ERR"
                    log "rep $rep/$REPS $mc $lbl: FAIL $MEM_ERR"
                fi
            done
        done
    fi
    cpu_snap
    rep_cpu="$(awk -v b0="$b0" -v b1="$SNAP_BUSY" -v c0="$c0" -v c1="$SNAP_CHILD" -v t0="$t0" -v t1="$SNAP_T" -v n="$NCPU" \
        'BEGIN { cap = (t1 - t0) * n; if (cap <= 0) cap = 1; busy = (b1 - b0) / cap * 100; oth = ((b1 - b0) - (c1 - c0)) / cap * 100; if (oth < 0) oth = 0; printf "busy %.0f%%, other ~%.0f%%", busy, oth }')"
    LOAD_NOTES+=" r$rep=[load $rep_load, $rep_cpu]"
    log "rep $rep/$REPS done: $rep_cpu"
done
rm -f "$OUTDIR/.times" "$ELAPSED"
if has_phase pod; then
    # (moat) Pods through the CRI: one run of the CRI test's benchmark, which makes REPS
    # pods per handler one after another (RunPodSandbox -> started container time, PSS with
    # one and with three containers) and writes one JSON line per pod.
    pod_out="$OUTDIR/pod.jsonl"
    if [ -z "${MOAT_BIN:-}" ] || [ -z "${MOAT_TEST_ROOTFS:-}" ]; then
        log "pod phase skipped: MOAT_BIN and MOAT_TEST_ROOTFS are not set (make bench sets them)"
    else
        log "pod phase: CRI pods under runc, moat and runsc ($REPS each)"
        (cd "$HERE/.." && PATH="$(dirname "$MOAT_BIN"):$PATH" REPS="$REPS" MEM_SETTLE="$MEM_SETTLE" \
            MOAT_CRI_BENCH_OUT="$pod_out" timeout 1200 cargo test --release -q -p moat-tests \
            --test cri -- --ignored --exact cri_pod_bench --nocapture) \
            >"$OUTDIR/logs/pod.out" 2>"$OUTDIR/logs/pod.err" ||
            log "pod phase: the CRI benchmark failed: $(errtail "$OUTDIR/logs/pod.err")"
        if [ -s "$pod_out" ]; then
            "$HOST_PYTHON" - "$pod_out" "$RAW" "${LABELS[@]}" <<'PY'
import json, sys
out, raw, labels = sys.argv[1], sys.argv[2], sys.argv[3:]
reps = {}
with open(out) as f, open(raw, "a") as r:
    for line in f:
        if not line.strip():
            continue
        d = json.loads(line)
        h = d["handler"]
        if h not in labels:
            continue
        n = reps[h] = reps.get(h, 0) + 1
        for metric, key in (("pod_start", "started_ms"), ("pod_pss1", "pss1_kib"), ("pod_pss3", "pss3_kib")):
            if "error" in d:
                r.write(f"pod\t{metric}\t{h}\t{n}\t0\t\tFAIL {d['error'][:200]}\n")
            else:
                r.write(f"pod\t{metric}\t{h}\t{n}\t0\t{d[key]}\tok\n")
PY
            log "pod phase: $(wc -l <"$pod_out") pods measured"
        fi
    fi
fi
stop_spinners
T_END=$(date +%s)

# --- metadata + report -------------------------------------------------------------
{
    echo "date_utc=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "duration_s=$((T_END - T_START))"
    echo "host=$(uname -n)"
    echo "kernel=$(uname -srvm)"
    echo "nproc=$(nproc)"
    echo "cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
    echo "mem=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
    echo "os=$(. /etc/os-release && echo "$PRETTY_NAME")"
    echo "virt=vm: $(systemd-detect-virt --vm 2>/dev/null || echo none), container: $(systemd-detect-virt --container 2>/dev/null || echo none)"
    echo "load=$LOAD_NOTES; at end: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "cgroup=$CGROUP_NOTE"
    echo "gcc=$(gcc --version | head -n1)"
    echo "python=$([ "$HAVE_PY" = 1 ] && "$ROOTFS/bench/python3" --version 2>&1) ($(cat "$ROOTFS/bench/PYTHON" 2>/dev/null))"
    echo "bundle=$BUNDLE"
    echo "params=REPS=$REPS STARTUP_N=$STARTUP_N MICRO_ITERS=${MICRO_ITERS:-default} MICRO_MAX_SEC=$MICRO_MAX_SEC PY_N=$PY_N PY_E2E_N=$PY_E2E_N TIMEOUT_STARTUP=$TIMEOUT_STARTUP TIMEOUT_MICRO=$TIMEOUT_MICRO"
    echo "baseline=$BASELINE"
    echo "spin_idle=$([ "$SPIN_IDLE" = 1 ] && echo "on: one SCHED_IDLE busy loop per CPU kept vCPUs from halting" || echo off)"
    echo "micros=${MICROS[*]}"
} >"$OUTDIR/meta.txt"

"$HOST_PYTHON" "$HERE/report.py" "$OUTDIR" >"$OUTDIR/report.md" || die "report.py failed (raw data in $OUTDIR)"
[ -n "$OUT" ] && cp "$OUTDIR/report.md" "$OUT"
cat "$OUTDIR/report.md"
log "done in $((T_END - T_START)) s; raw data and logs in $OUTDIR"
