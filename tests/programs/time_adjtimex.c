/* adjtimex and clock_adjtime read the system clock's discipline state: the return value is
 * a clock state, the fixed fields are Linux's (tick, tolerance, precision), the time is
 * now; ADJ_OFFSET_SS_READ reads too; bad mode combinations, clocks and pointers fail as
 * on Linux; changes without CAP_SYS_TIME are EPERM (tried as uid 1000 only: natively,
 * root would really steer the clock). Nothing host-specific (sync state) is printed. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <sys/timex.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef ADJ_ADJTIME
#define ADJ_ADJTIME 0x8000
#endif

static void show(const char *what, long r) {
    printf("%-36s %s %s\n", what, r < 0 ? "-1" : r <= 5 ? "state" : "?",
           r < 0 ? strerrorname_np(errno) : "");
}

int main(void) {
    struct timex t;
    memset(&t, 0, sizeof t);
    struct timeval now;
    gettimeofday(&now, 0);
    show("adjtimex read", adjtimex(&t));
    printf("  tick %ld tolerance %ld precision %ld modes %u\n", t.tick, t.tolerance,
           t.precision, t.modes);
    long d = t.time.tv_sec - now.tv_sec;
    printf("  time within 2 s of gettimeofday: %d\n", d >= -2 && d <= 2);
    memset(&t, 0, sizeof t);
    t.modes = ADJ_OFFSET_SS_READ;
    show("adjtimex ADJ_OFFSET_SS_READ", adjtimex(&t));
    printf("  modes kept %x\n", t.modes);
    memset(&t, 0, sizeof t);
    t.modes = ADJ_ADJTIME;
    show("adjtimex ADJ_ADJTIME alone", adjtimex(&t));
    show("adjtimex bad pointer", adjtimex((void *)8));
    memset(&t, 0, sizeof t);
    show("clock_adjtime REALTIME", clock_adjtime(CLOCK_REALTIME, &t));
    show("clock_adjtime MONOTONIC", clock_adjtime(CLOCK_MONOTONIC, &t));
    show("clock_adjtime BOOTTIME", clock_adjtime(CLOCK_BOOTTIME, &t));
    show("clock_adjtime PROCESS_CPUTIME", clock_adjtime(CLOCK_PROCESS_CPUTIME_ID, &t));
    show("clock_adjtime 12345", clock_adjtime(12345, &t));
    fflush(stdout);
    if (fork() == 0) {
        setresgid(1000, 1000, 1000);
        setresuid(1000, 1000, 1000);
        memset(&t, 0, sizeof t);
        t.modes = ADJ_FREQUENCY;
        t.freq = 1000;
        show("uid 1000 ADJ_FREQUENCY", adjtimex(&t));
        memset(&t, 0, sizeof t);
        t.modes = ADJ_OFFSET_SINGLESHOT;
        t.offset = 10;
        show("uid 1000 ADJ_OFFSET_SINGLESHOT", adjtimex(&t));
        memset(&t, 0, sizeof t);
        show("uid 1000 read", adjtimex(&t));
        fflush(stdout);
        _exit(0);
    }
    wait(0);
    printf("done: ok\n");
    return 0;
}
