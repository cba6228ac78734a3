#!/usr/bin/env bash
# mkrootfs.sh OUT_DIR - build the rootfs used by `make demo` and the integration tests.
#
#   merged-/usr layout mirroring the host (bin -> usr/bin, ...; as in bench/mkbundle.sh)
#   usr/bin/busybox (busybox-static) + one symlink per applet
#   etc/passwd, etc/group, etc/hostname; root/, tmp/ and var/tmp/ (1777)
#   dev/{null,zero,full,random,urandom,tty}: device nodes, used only by native (chroot)
#       comparison runs; a container gets its own /dev
#   opt/moat-tests/NAME: every tests/programs/NAME.c, gcc -O2 -static
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

# --- busybox + applets ------------------------------------------------------------
cp -L "$BUSYBOX" "$R/bin/busybox"
"$BUSYBOX" --list-full | while read -r applet; do
    [ -n "$applet" ] || continue
    mkdir -p "$R/$(dirname "$applet")"
    [ -e "$R/$applet" ] || [ -L "$R/$applet" ] || ln -s /bin/busybox "$R/$applet"
done
[ -L "$R/bin/sh" ] || [ -e "$R/bin/sh" ] || die "busybox applet symlinks missing (/bin/sh)"

# --- static test programs ------------------------------------------------------------
n=0
for src in "$HERE"/programs/*.c; do
    [ -e "$src" ] || continue
    name="$(basename "$src" .c)"
    $CC -O2 -static -Wall -Wextra -o "$R/opt/moat-tests/$name" "$src" -pthread
    n=$((n + 1))
done

# smoke test: the rootfs works natively
out="$(env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin chroot "$R" /bin/sh -c 'echo ok')"
[ "$out" = ok ] || die "busybox sh does not run in the new rootfs (chroot test)"

touch "$R/.moat-rootfs"
rm -rf "$OUT"
mv "$TMP" "$OUT"
echo "mkrootfs: rootfs ready at $OUT (busybox $("$BUSYBOX" | head -n1 | awk '{print $2}'), $n test programs)" >&2
