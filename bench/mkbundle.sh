#!/usr/bin/env bash
# Copied from the project's shared OCI runtime benchmark harness (shared/bench); keep in sync with it.
# mkbundle.sh - build an OCI bundle for the runtime benchmark harness.
#
# usage: mkbundle.sh [--python] [--python-bin PATH] [--no-rebuild] DIR
#
#   DIR/config.json   from `runc spec` (crun spec as fallback), then:
#                     process.terminal=false, root.readonly=false,
#                     root.path=rootfs, process.args=["/bin/true"],
#                     hostname=bench.  Everything else is runc's default
#                     (namespaces pid/ipc/uts/mount/network, no seccomp
#                     profile, default capability set).  run.sh derives one
#                     config per benchmark from this file, changing only
#                     args and root.path.
#   DIR/rootfs/       merged-usr layout mirroring the host (bin -> usr/bin ...)
#       usr/bin/busybox + one symlink per applet (busybox-static)
#       bench/<name>  every micro/*.c, gcc -O2 -static
#       bench/nop     tiny -nostdlib static exit(0) binary (fork_exec target)
#       bench/spawn_time  times fork+exec+wait of any command (python row)
#       bench/data/small (4 KiB), bench/data/1m (1 MiB)  read-only inputs
#       bench/scratch/ plain rootfs directory for file_cwu etc. (BENCH_DIR);
#                     /tmp is avoided because runsc mounts a tmpfs there
#       tmp/          plain rootfs directory, mode 1777
#       dev/null      device node, only used by the `native` (chroot) mode;
#                     runtimes mount their own /dev over it
#   DIR/host/timed    host-side helper of run.sh (timeout + CLOCK_MONOTONIC
#                     wall time of a command), not part of the rootfs
#   --python          also copy a dynamically linked python3 (default: the
#                     host's /usr/bin/python3, resolved), the shared libs that
#                     ldd reports for it and for its lib-dynload modules, and
#                     its stdlib directory (minus test/ and config-*/).
#                     /bench/python3 is a symlink to it.
#   --no-rebuild      keep an existing bundle made by this script (only
#                     rebuild when sources are newer).  Default: rebuild.
#
# DIR must be new, empty, or a bundle made earlier by this script (marked
# with DIR/.oci-bench-bundle); only such a previous bundle is ever deleted.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
WITH_PY=0
PY_BIN="${PYTHON_BIN:-/usr/bin/python3}"
REBUILD=1
CC="${CC:-gcc}"
CFLAGS_BENCH="-O2 -static -pthread -Wall -Wextra"

die() { echo "mkbundle: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
    case "$1" in
        --python) WITH_PY=1 ;;
        --python-bin) WITH_PY=1; PY_BIN="$2"; shift ;;
        --python-bin=*) WITH_PY=1; PY_BIN="${1#*=}" ;;
        --no-rebuild) REBUILD=0 ;;
        -h|--help) sed -n '2,/^set -e/p' "$0" | sed 's/^# \{0,1\}//;$d'; exit 0 ;;
        -*) die "unknown option $1" ;;
        *) break ;;
    esac
    shift
done
[ $# -eq 1 ] || die "usage: mkbundle.sh [--python] [--python-bin PATH] [--no-rebuild] DIR"
DIR="$1"
# Only ever build into a new/empty directory or one this script made before.
if [ -d "$DIR" ] && [ ! -f "$DIR/.oci-bench-bundle" ] && [ -n "$(ls -A "$DIR")" ]; then
    die "$DIR exists, is not empty and is not a bundle made by mkbundle.sh; refusing"
fi
mkdir -p "$DIR"
DIR="$(cd "$DIR" && pwd)"
[ "$DIR" != "/" ] || die "refusing to use / as bundle dir"
ROOTFS="$DIR/rootfs"
MARK="$DIR/.oci-bench-bundle"

for t in "$CC" busybox; do command -v "$t" >/dev/null || die "$t not found"; done
BUSYBOX="$(command -v busybox)"
file -L "$BUSYBOX" 2>/dev/null | grep -q 'statically linked' ||
    echo "mkbundle: warning: $BUSYBOX is not static (install busybox-static)" >&2

if [ "$REBUILD" = 0 ] && [ -f "$MARK" ] && [ -f "$DIR/config.json" ] && [ -x "$DIR/host/timed" ] &&
   { [ "$WITH_PY" = 0 ] || [ -e "$ROOTFS/bench/python3" ]; } &&
   [ -z "$(find "$HERE/micro" "$HERE/tools" "$HERE/mkbundle.sh" -newer "$MARK" \( -name '*.[ch]' -o -name mkbundle.sh \) 2>/dev/null)" ]; then
    echo "mkbundle: $DIR is up to date" >&2
    exit 0
fi

if [ -e "$ROOTFS" ] || [ -e "$DIR/config.json" ]; then
    [ -f "$MARK" ] || die "$DIR already has rootfs/ or config.json but no $MARK marker; not touching it"
    rm -rf "$ROOTFS" "$DIR/config.json" "$DIR/host"
fi
touch "$MARK"

# --- skeleton, mirroring the host's merged-/usr symlinks -------------------
mkdir -p "$ROOTFS"/{usr/bin,usr/sbin,usr/lib,bench/data,bench/scratch,proc,sys,dev,etc,root,tmp,var/tmp,run}
for d in bin sbin lib lib32 lib64 libx32; do
    if [ -L "/$d" ]; then
        ln -s "$(readlink "/$d")" "$ROOTFS/$d"
        mkdir -p "$ROOTFS/$(readlink "/$d")"
    elif [ "$d" = bin ] || [ "$d" = sbin ] || [ "$d" = lib ]; then
        mkdir -p "$ROOTFS/$d"
    fi
done
chmod 1777 "$ROOTFS/tmp" "$ROOTFS/var/tmp" "$ROOTFS/bench/scratch"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$ROOTFS/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$ROOTFS/etc/group"
echo bench >"$ROOTFS/etc/hostname"
mknod -m 666 "$ROOTFS/dev/null" c 1 3 2>/dev/null || true

# --- busybox + applets -------------------------------------------------------
cp -L "$BUSYBOX" "$ROOTFS/bin/busybox"
"$BUSYBOX" --list-full | while read -r applet; do
    [ -n "$applet" ] || continue
    mkdir -p "$ROOTFS/$(dirname "$applet")"
    [ -e "$ROOTFS/$applet" ] || [ -L "$ROOTFS/$applet" ] || ln -s /bin/busybox "$ROOTFS/$applet"
done
[ -e "$ROOTFS/bin/sh" ] || die "busybox applet symlinks missing (/bin/sh)"

# --- benchmarks ----------------------------------------------------------------
n=0
for src in "$HERE"/micro/*.c; do
    name="$(basename "$src" .c)"
    $CC $CFLAGS_BENCH -o "$ROOTFS/bench/$name" "$src"
    n=$((n + 1))
done
$CC -O2 -static -nostdlib -fno-stack-protector -o "$ROOTFS/bench/nop" "$HERE/tools/nop.c"
$CC $CFLAGS_BENCH -o "$ROOTFS/bench/spawn_time" "$HERE/tools/spawn_time.c"
mkdir -p "$DIR/host"
$CC -O2 -static -Wall -Wextra -o "$DIR/host/timed" "$HERE/tools/timed.c"
# LIST: run order for run.sh -- cheap syscalls first, process creation last;
# benchmarks not named here are appended alphabetically.
PREFERRED="getpid getpid_mt1 getpid_mt2 getpid_mt4 clock_gettime pipe_rt futex_pingpong mmap_64k stat open_close pread_64k file_cwu fork_wait fork_exec"
{
    for b in $PREFERRED; do [ -f "$HERE/micro/$b.c" ] && echo "$b"; done
    for src in "$HERE"/micro/*.c; do
        b="$(basename "$src" .c)"
        case " $PREFERRED " in *" $b "*) ;; *) echo "$b" ;; esac
    done
} >"$ROOTFS/bench/LIST"
head -c 4096 /dev/zero | tr '\0' 's' >"$ROOTFS/bench/data/small"
head -c 1048576 /dev/zero | tr '\0' 'm' >"$ROOTFS/bench/data/1m"
chmod 0444 "$ROOTFS/bench/data/"*

# --- optional python3 ----------------------------------------------------------
copy_host_file() { # copy (dereferenced) host path $1 to the same path in rootfs
    local p="$1"
    [ -e "$ROOTFS$p" ] && return 0
    mkdir -p "$(dirname "$ROOTFS$p")"
    cp -L "$p" "$ROOTFS$p"
}
ldd_deps() { # print absolute paths of the shared objects $1 needs
    ldd "$1" 2>/dev/null | awk '
        $2 == "=>" && $3 ~ /^\// { print $3; next }
        $1 ~ /^\// { print $1 }'
}
if [ "$WITH_PY" = 1 ]; then
    PY_REAL="$(readlink -f "$(command -v "$PY_BIN")")" || die "python $PY_BIN not found"
    file -L "$PY_REAL" | grep -q 'dynamically linked' ||
        echo "mkbundle: warning: $PY_REAL is not dynamically linked" >&2
    STDLIB="$("$PY_REAL" -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])')"
    PLATSTDLIB="$("$PY_REAL" -c 'import sysconfig; print(sysconfig.get_paths()["platstdlib"])')"
    copy_host_file "$PY_REAL"
    for lib in $(ldd_deps "$PY_REAL"); do copy_host_file "$lib"; done
    for sd in "$STDLIB" "$PLATSTDLIB"; do
        [ -d "$ROOTFS$sd" ] && continue
        mkdir -p "$ROOTFS$sd"
        tar -C "$sd" --exclude=./test --exclude='./config-*' -cf - . | tar -C "$ROOTFS$sd" -xf -
        # stdlib symlinks may point outside it (Debian: sitecustomize.py ->
        # /etc/...): replace each with a copy of its target, or drop it.
        find "$ROOTFS$sd" -type l | while read -r l; do
            tgt="$(readlink -f "${l#"$ROOTFS"}" 2>/dev/null || true)"
            rm -f "$l"
            if [ -n "$tgt" ] && [ -f "$tgt" ]; then cp -L "$tgt" "$l"; fi
        done
    done
    for so in "$PLATSTDLIB"/lib-dynload/*.so; do
        [ -e "$so" ] || continue
        for lib in $(ldd_deps "$so"); do copy_host_file "$lib"; done
    done
    ln -sfn "$PY_REAL" "$ROOTFS/bench/python3"
    [ -e "$ROOTFS/usr/bin/python3" ] || [ -L "$ROOTFS/usr/bin/python3" ] || ln -s "$PY_REAL" "$ROOTFS/usr/bin/python3"
    echo "$PY_REAL" >"$ROOTFS/bench/PYTHON"
    # smoke test natively (chroot) so a broken copy fails here, not in run.sh
    chroot "$ROOTFS" /bench/python3 -c 'import sys, os, encodings; print(1)' >/dev/null ||
        die "python3 does not run inside the rootfs (chroot test)"
fi

# --- config.json ---------------------------------------------------------------
if command -v runc >/dev/null; then
    runc spec --bundle "$DIR"
elif command -v crun >/dev/null; then
    (cd "$DIR" && crun spec)
else
    die "need runc or crun for 'spec'"
fi
tmp="$DIR/config.json.tmp"
if command -v jq >/dev/null; then
    jq '.process.terminal = false | .root.readonly = false | .root.path = "rootfs"
        | .process.args = ["/bin/true"] | .hostname = "bench"
        | .process.env += ["BENCH_DIR=/bench/scratch"]' "$DIR/config.json" >"$tmp"
else
    python3 - "$DIR/config.json" >"$tmp" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))
c["process"]["terminal"] = False
c["root"]["readonly"] = False
c["root"]["path"] = "rootfs"
c["process"]["args"] = ["/bin/true"]
c["hostname"] = "bench"
c["process"]["env"].append("BENCH_DIR=/bench/scratch")
json.dump(c, sys.stdout, indent=2)
EOF
fi
mv "$tmp" "$DIR/config.json"
touch "$MARK"
echo "mkbundle: bundle ready at $DIR ($n benchmarks$([ "$WITH_PY" = 1 ] && echo ", python3 $PY_REAL"))" >&2
