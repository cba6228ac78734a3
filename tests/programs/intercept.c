/* intercept.c - proves that moat intercepts syscalls.
 *
 * Uses raw syscall(2) only (no libc wrappers that might cache results), and prints one
 * `key=value` line per probe:
 *   pid=N            SYS_getpid            (1 under moat: the sentry's pid namespace)
 *   release=R        SYS_uname .release    (the sentry's release, e.g. 6.1.0-moat)
 *   sysname=S        SYS_uname .sysname    (Linux)
 *   write=ok|errno   SYS_open(O_CREAT) + SYS_write + SYS_close of /moat-intercept-probe
 *   read=CONTENT     SYS_open + SYS_read of it again
 *   full_write=E     SYS_write to /dev/full: -errno (-28 = ENOSPC)
 *   zero_read=N      bytes read from /dev/zero that were all zero (of 64)
 * Exit status 0 when every probe ran, 1 otherwise.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#define PROBE "/moat-intercept-probe"
#define CONTENT "written-inside-the-sandbox"

int main(void) {
    int rc = 0;
    long pid = syscall(SYS_getpid);
    printf("pid=%ld\n", pid);

    struct utsname u;
    memset(&u, 0, sizeof u);
    if (syscall(SYS_uname, &u) != 0) {
        printf("release=ERR%d\n", errno);
        rc = 1;
    } else {
        printf("release=%s\nsysname=%s\n", u.release, u.sysname);
    }

    long fd = syscall(SYS_open, PROBE, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
    if (fd < 0) {
        printf("write=ERR%d\n", errno);
        rc = 1;
    } else {
        long n = syscall(SYS_write, fd, CONTENT, strlen(CONTENT));
        syscall(SYS_close, fd);
        if (n == (long)strlen(CONTENT)) {
            printf("write=ok\n");
        } else {
            printf("write=ERR%d\n", errno);
            rc = 1;
        }
    }

    char buf[128];
    memset(buf, 0, sizeof buf);
    fd = syscall(SYS_open, PROBE, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        printf("read=ERR%d\n", errno);
        rc = 1;
    } else {
        long n = syscall(SYS_read, fd, buf, sizeof buf - 1);
        syscall(SYS_close, fd);
        if (n < 0) {
            printf("read=ERR%d\n", errno);
            rc = 1;
        } else {
            printf("read=%s\n", buf);
        }
    }

    fd = syscall(SYS_open, "/dev/full", O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        printf("full_write=open-ERR%d\n", errno);
        rc = 1;
    } else {
        long n = syscall(SYS_write, fd, "x", 1);
        printf("full_write=%ld\n", n < 0 ? -(long)errno : n);
        syscall(SYS_close, fd);
    }

    fd = syscall(SYS_open, "/dev/zero", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        printf("zero_read=open-ERR%d\n", errno);
        rc = 1;
    } else {
        unsigned char z[64];
        memset(z, 0xaa, sizeof z);
        long n = syscall(SYS_read, fd, z, sizeof z);
        long zeros = 0;
        for (long i = 0; i < n; i++) zeros += z[i] == 0;
        printf("zero_read=%ld\n", zeros);
        syscall(SYS_close, fd);
    }
    return rc;
}
