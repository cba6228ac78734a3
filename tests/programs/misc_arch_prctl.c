/* arch_prctl: FS and GS base set and read back, addresses beyond user space refused, the
 * CPUID controls (CPUID is on; turning faulting on or off either works or, without
 * hardware CPUID faulting, is ENODEV), unknown codes EINVAL, a bad pointer EFAULT. */
#define _GNU_SOURCE
#include <asm/prctl.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef ARCH_GET_CPUID
#define ARCH_GET_CPUID 0x1011
#define ARCH_SET_CPUID 0x1012
#endif

static long ap(long code, unsigned long arg) { return syscall(SYS_arch_prctl, code, arg); }

static void show(const char *what, long r) {
    printf("%-34s %ld %s\n", what, r, r < 0 ? strerrorname_np(errno) : "");
}

int main(void) {
    unsigned long v = 0;
    show("ARCH_SET_GS 0x12345000", ap(ARCH_SET_GS, 0x12345000));
    show("ARCH_GET_GS", ap(ARCH_GET_GS, (unsigned long)&v));
    printf("  gs base %lx\n", v);
    show("ARCH_SET_GS 0", ap(ARCH_SET_GS, 0));
    show("ARCH_SET_GS kernel address", ap(ARCH_SET_GS, 0xffff800000000000UL));
    show("ARCH_SET_FS kernel address", ap(ARCH_SET_FS, 0xffff800000000000UL));
    show("ARCH_GET_FS bad pointer", ap(ARCH_GET_FS, 8));
    show("ARCH_GET_CPUID", ap(ARCH_GET_CPUID, 0));
    long r = ap(ARCH_SET_CPUID, 1);
    printf("ARCH_SET_CPUID 1: %s\n", r == 0 || errno == ENODEV ? "ok or ENODEV" : strerrorname_np(errno));
    r = ap(ARCH_SET_CPUID, 0);
    printf("ARCH_SET_CPUID 0: %s\n", r == 0 || errno == ENODEV ? "ok or ENODEV" : strerrorname_np(errno));
    if (r == 0)
        ap(ARCH_SET_CPUID, 1);
    show("ARCH_GET_CPUID again", ap(ARCH_GET_CPUID, 0));
    show("code 0x9999", ap(0x9999, 0));
    printf("done: ok\n");
    return 0;
}
