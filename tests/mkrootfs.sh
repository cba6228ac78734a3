#!/usr/bin/env bash
# mkrootfs.sh OUT_DIR - build the rootfs used by `make demo` and the integration tests.
#
#   merged-/usr layout mirroring the host (bin -> usr/bin, ...; as in bench/mkbundle.sh)
#   usr/bin/busybox (busybox-static) + one symlink per applet
#   etc/passwd, etc/group, etc/hostname; root/, tmp/ and var/tmp/ (1777)
#   dev/{null,zero,full,random,urandom,tty}: device nodes, used only by native (chroot)
#       comparison runs; a container gets its own /dev
#   opt/moat-tests/NAME: every tests/programs/NAME.c, gcc -O2 -static; a program whose source
#       has a line `// moat-build: dynamic` is linked dynamically (PIE, with its shared libraries
#       copied from the host), `// moat-build: static-pie` makes a static PIE
#   opt/moat-tests/data/: small files fs_copyup.c modifies
#   opt/moat-tests/python/NAME.py: every tests/python/NAME.py
#   dev/shm: mount point (native runs mount a tmpfs there; the sandbox's /dev is its own)
#   python3 (when the host has /usr/bin/python3 and MOAT_ROOTFS_PYTHON is not 0): the host's
#       dynamically linked interpreter, the shared libraries it and its lib-dynload modules
#       need, and its stdlib (as bench/mkbundle.sh --python does); /opt/moat-tests/PYTHON
#       names it. Without python the python tests skip.
#
# The rootfs is built in OUT_DIR.tmp and renamed into place, so an interrupted build never
# leaves a half-made rootfs behind. OUT_DIR must be new or a rootfs made by this script.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CC="${CC:-gcc}"
die() { echo "mkrootfs: $*" >&2; exit 1; }

[ $# -eq 1 ] || die "usage: mkrootfs.sh OUT_DIR"
OUT="$1"
[ "$(id -u)" = 0 ] || die "must run as root (device nodes, file ownership)"
case "$OUT" in /|"") die "refusing to build into '$OUT'" ;; esac
if [ -e "$OUT" ] && [ ! -f "$OUT/.moat-rootfs" ]; then
    die "$OUT exists and was not made by mkrootfs.sh; refusing to replace it"
fi
BUSYBOX="$(command -v busybox)" || die "busybox not found (apt-get install busybox-static)"
file_out="$(LC_ALL=C file -L "$BUSYBOX" 2>/dev/null || true)"
case "$file_out" in
    *"dynamically linked"*) die "$BUSYBOX is dynamically linked; install busybox-static" ;;
esac

TMP="$OUT.tmp"
rm -rf "$TMP"
mkdir -p "$TMP"
R="$TMP"

# --- skeleton -------------------------------------------------------------------
mkdir -p "$R"/{usr/bin,usr/sbin,usr/lib,usr/local/bin,opt/moat-tests,proc,sys,dev,etc,root,tmp,var/tmp,run,home,mnt}
for d in bin sbin lib lib32 lib64 libx32; do
    if [ -L "/$d" ]; then
        ln -s "$(readlink "/$d")" "$R/$d"
        mkdir -p "$R/$(readlink "/$d")"
    elif [ "$d" = bin ] || [ "$d" = sbin ] || [ "$d" = lib ]; then
        mkdir -p "$R/$d"
    fi
done
chmod 0755 "$R"
chmod 1777 "$R/tmp" "$R/var/tmp"
chmod 0700 "$R/root"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$R/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$R/etc/group"
echo moat >"$R/etc/hostname"
mknod -m 666 "$R/dev/null" c 1 3
mknod -m 666 "$R/dev/zero" c 1 5
mknod -m 666 "$R/dev/full" c 1 7
mknod -m 666 "$R/dev/random" c 1 8
mknod -m 666 "$R/dev/urandom" c 1 9
mknod -m 666 "$R/dev/tty" c 5 0
mkdir -p "$R/dev/shm"
chmod 1777 "$R/dev/shm"

# --- busybox + applets ------------------------------------------------------------
cp -L "$BUSYBOX" "$R/bin/busybox"
"$BUSYBOX" --list-full | while read -r applet; do
    [ -n "$applet" ] || continue
    mkdir -p "$R/$(dirname "$applet")"
    [ -e "$R/$applet" ] || [ -L "$R/$applet" ] || ln -s /bin/busybox "$R/$applet"
done
[ -L "$R/bin/sh" ] || [ -e "$R/bin/sh" ] || die "busybox applet symlinks missing (/bin/sh)"

# --- test programs ---------------------------------------------------------------------
copy_host_file() { # copy (dereferenced) host path $1 to the same path in the rootfs
    local p="$1"
    [ -e "$R$p" ] && return 0
    mkdir -p "$(dirname "$R$p")"
    cp -L "$p" "$R$p"
}
ldd_deps() { # absolute paths of the shared objects $1 needs
    ldd "$1" 2>/dev/null | awk '
        $2 == "=>" && $3 ~ /^\// { print $3; next }
        $1 ~ /^\// { print $1 }'
}
n=0
for src in "$HERE"/programs/*.c; do
    [ -e "$src" ] || continue
    name="$(basename "$src" .c)"
    kind="$(sed -n 's|^// moat-build: *\([a-z-]*\).*|\1|p' "$src" | head -n1)"
    case "$kind" in
        dynamic)
            $CC -O2 -fPIE -pie -Wall -Wextra -o "$R/opt/moat-tests/$name" "$src" -pthread -lm
            for lib in $(ldd_deps "$R/opt/moat-tests/$name"); do copy_host_file "$lib"; done ;;
        static-pie)
            $CC -O2 -static-pie -fPIE -Wall -Wextra -o "$R/opt/moat-tests/$name" "$src" -pthread -lm ;;
        "")
            $CC -O2 -static -Wall -Wextra -o "$R/opt/moat-tests/$name" "$src" -pthread -lm ;;
        *) die "$src: unknown moat-build kind '$kind'" ;;
    esac
    n=$((n + 1))
done
# files that fs_copyup.c modifies (copy-up in the sandbox's overlay)
mkdir -p "$R/opt/moat-tests/data/dir"
for w in one:first two:second three:third four:fourth five:fifth six:sixth seven:seventh eight:eighth; do
    echo "${w%%:*}: the ${w#*:} file" >"$R/opt/moat-tests/data/${w%%:*}.txt"
done
echo "inner file" >"$R/opt/moat-tests/data/dir/inner.txt"
mkdir -p "$R/opt/moat-tests/python"
for src in "$HERE"/python/*.py; do
    [ -e "$src" ] || continue
    cp "$src" "$R/opt/moat-tests/python/"
done

# --- python3 (optional) ----------------------------------------------------------------
PY_BIN="${MOAT_ROOTFS_PYTHON_BIN:-/usr/bin/python3}"
if [ "${MOAT_ROOTFS_PYTHON:-1}" != 0 ] && [ -x "$PY_BIN" ]; then
    PY_REAL="$(readlink -f "$PY_BIN")"
    STDLIB="$("$PY_REAL" -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])')"
    PLATSTDLIB="$("$PY_REAL" -c 'import sysconfig; print(sysconfig.get_paths()["platstdlib"])')"
    copy_host_file "$PY_REAL"
    for lib in $(ldd_deps "$PY_REAL"); do copy_host_file "$lib"; done
    for sd in "$STDLIB" "$PLATSTDLIB"; do
        [ -d "$R$sd" ] && continue
        mkdir -p "$R$sd"
        tar -C "$sd" --exclude=./test --exclude='./config-*' --exclude=./idlelib \
            --exclude=./tkinter --exclude=./turtledemo --exclude=./ensurepip -cf - . |
            tar -C "$R$sd" -xf -
        # stdlib symlinks may point outside it (Debian: sitecustomize.py -> /etc/...):
        # replace each with a copy of its target, or drop it.
        find "$R$sd" -type l | while read -r l; do
            tgt="$(readlink -f "${l#"$R"}" 2>/dev/null || true)"
            rm -f "$l"
            if [ -n "$tgt" ] && [ -f "$tgt" ]; then cp -L "$tgt" "$l"; fi
        done
    done
    for so in "$PLATSTDLIB"/lib-dynload/*.so; do
        [ -e "$so" ] || continue
        for lib in $(ldd_deps "$so"); do copy_host_file "$lib"; done
    done
    [ -e "$R/usr/bin/python3" ] || [ -L "$R/usr/bin/python3" ] || ln -s "$PY_REAL" "$R/usr/bin/python3"
    echo "$PY_REAL" >"$R/opt/moat-tests/PYTHON"
    out="$(chroot "$R" /usr/bin/env -i PATH=/usr/bin:/bin /usr/bin/python3 -B -c 'import sys, os, encodings; print("ok")')"
    [ "$out" = ok ] || die "python3 does not run inside the new rootfs (chroot test)"
fi

# smoke test: the rootfs works natively
out="$(env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin chroot "$R" /bin/sh -c 'echo ok')"
[ "$out" = ok ] || die "busybox sh does not run in the new rootfs (chroot test)"

touch "$R/.moat-rootfs"
rm -rf "$OUT"
mv "$TMP" "$OUT"
echo "mkrootfs: rootfs ready at $OUT (busybox $("$BUSYBOX" | head -n1 | awk '{print $2}'), $n test programs$([ -e "$OUT/opt/moat-tests/PYTHON" ] && echo ", python3"))" >&2
