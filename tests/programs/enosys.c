/* enosys.c - calls a syscall that the sentry does not implement.
 *
 * usage: enosys [COUNT]   (default 3)
 * Calls vhangup(2) COUNT times through raw syscall(2) and prints, per call,
 *   vhangup=RET errno=E
 * then `enosys=N` with the number of calls that failed with ENOSYS.
 * Only meaningful inside a sandbox: natively, as root, vhangup really hangs up the
 * controlling terminal.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv) {
    int count = argc > 1 ? atoi(argv[1]) : 3;
    int enosys = 0;
    for (int i = 0; i < count; i++) {
        errno = 0;
        long r = syscall(SYS_vhangup);
        int e = errno;
        printf("vhangup=%ld errno=%d\n", r, e);
        if (r == -1 && e == ENOSYS) enosys++;
    }
    printf("enosys=%d\n", enosys);
    return 0;
}
