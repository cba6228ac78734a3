/* Sleeping and clocks: nanosleep and clock_nanosleep (relative and TIMER_ABSTIME, MONOTONIC,
 * REALTIME and BOOTTIME, deadlines in the past, bad arguments), clock_getres for every clock,
 * clock_gettime monotonicity and the relations between clocks, gettimeofday/time agreeing
 * with CLOCK_REALTIME, CPU clocks of threads and processes. */
#include "moat_test.h"
#include <pthread.h>
#include <sys/syscall.h>
#include <sys/time.h>

static long ns(struct timespec t) { return t.tv_sec * 1000000000L + t.tv_nsec; }

static void *spin(void *a) {
    (void)a;
    struct timespec t;
    long t0 = now_ms(CLOCK_THREAD_CPUTIME_ID);
    while (now_ms(CLOCK_THREAD_CPUTIME_ID) - t0 < 50) {
    }
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (void *)(long)(ns(t) >= 50000000L);
}

int main(void) {
    setup();
    long t0 = now_ms(CLOCK_MONOTONIC);
    struct timespec d = {0, 30000000}, rem = {9, 9};
    rep("nanosleep 30ms", nanosleep(&d, &rem));
    long el = now_ms(CLOCK_MONOTONIC) - t0;
    check("slept >= 30ms and < 1s", el >= 30 && el < 1000);
    t0 = now_ms(CLOCK_MONOTONIC);
    printf("clock_nanosleep MONOTONIC rel: %s\n", errname(clock_nanosleep(CLOCK_MONOTONIC, 0, &d, NULL)));
    check("... >= 30ms", now_ms(CLOCK_MONOTONIC) - t0 >= 30);
    struct timespec abs;
    clock_gettime(CLOCK_MONOTONIC, &abs);
    abs.tv_nsec += 40000000;
    if (abs.tv_nsec >= 1000000000) abs.tv_sec++, abs.tv_nsec -= 1000000000;
    printf("clock_nanosleep MONOTONIC abs: %s\n", errname(clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &abs, NULL)));
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    check("... woke at or after the deadline", ns(now) >= ns(abs));
    clock_gettime(CLOCK_REALTIME, &abs);
    abs.tv_nsec += 20000000;
    if (abs.tv_nsec >= 1000000000) abs.tv_sec++, abs.tv_nsec -= 1000000000;
    printf("clock_nanosleep REALTIME abs: %s\n", errname(clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &abs, NULL)));
    clock_gettime(CLOCK_REALTIME, &now);
    check("... woke at or after the deadline", ns(now) >= ns(abs));
    printf("clock_nanosleep BOOTTIME rel: %s\n", errname(clock_nanosleep(CLOCK_BOOTTIME, 0, &d, NULL)));
    clock_gettime(CLOCK_MONOTONIC, &abs);
    abs.tv_sec -= 1;
    t0 = now_ms(CLOCK_MONOTONIC);
    printf("absolute deadline in the past: %s, immediate: %s\n", errname(clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &abs, NULL)),
           now_ms(CLOCK_MONOTONIC) - t0 < 20 ? "yes" : "no");
    struct timespec bad = {0, 1000000000};
    rep_err("nanosleep tv_nsec = 1e9", nanosleep(&bad, NULL));
    struct timespec neg = {-1, 0};
    rep_err("nanosleep negative", nanosleep(&neg, NULL));
    printf("clock_nanosleep on THREAD_CPUTIME: %s\n", errname(clock_nanosleep(CLOCK_THREAD_CPUTIME_ID, 0, &d, NULL)));
    printf("clock_nanosleep on a bad clock: %s\n", errname(clock_nanosleep(12345, 0, &d, NULL)));
    rep_err("nanosleep with a bad pointer", syscall(SYS_nanosleep, (void *)8, NULL));
    struct timespec zero = {0, 0};
    rep("nanosleep 0", nanosleep(&zero, NULL));

    static const struct { clockid_t c; const char *n; } clocks[] = {
        {CLOCK_REALTIME, "REALTIME"}, {CLOCK_MONOTONIC, "MONOTONIC"}, {CLOCK_PROCESS_CPUTIME_ID, "PROCESS_CPUTIME"},
        {CLOCK_THREAD_CPUTIME_ID, "THREAD_CPUTIME"}, {CLOCK_MONOTONIC_RAW, "MONOTONIC_RAW"},
        {CLOCK_REALTIME_COARSE, "REALTIME_COARSE"}, {CLOCK_MONOTONIC_COARSE, "MONOTONIC_COARSE"},
        {CLOCK_BOOTTIME, "BOOTTIME"}, {CLOCK_TAI, "TAI"}, /* the _ALARM clocks depend on the host's RTC */
    };
    for (size_t i = 0; i < sizeof clocks / sizeof clocks[0]; i++) {
        struct timespec r = {0, 0}, g;
        int rr = clock_getres(clocks[i].c, &r);
        int gg = clock_gettime(clocks[i].c, &g);
        const char *res = rr < 0 ? errname(errno) : ns(r) == 1 ? "1ns" : ns(r) <= 10000000 ? "coarse (<=10ms)" : "large";
        printf("%s: getres %s, gettime %s\n", clocks[i].n, res, gg < 0 ? errname(errno) : "ok");
    }
    struct timespec r;
    rep_err("clock_getres bad clock", clock_getres(99, &r));
    rep("clock_getres with NULL", clock_getres(CLOCK_MONOTONIC, NULL));
    rep_err("clock_gettime bad clock", clock_gettime(99, &r));

    struct timespec a, b;
    int mono = 1;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int i = 0; i < 10000; i++) {
        clock_gettime(CLOCK_MONOTONIC, &b);
        if (ns(b) < ns(a)) mono = 0;
        a = b;
    }
    check("CLOCK_MONOTONIC never goes back (10000 reads)", mono);
    struct timespec bt, mt, rt, tai;
    clock_gettime(CLOCK_MONOTONIC, &mt);
    clock_gettime(CLOCK_BOOTTIME, &bt);
    check("BOOTTIME >= MONOTONIC", ns(bt) >= ns(mt));
    clock_gettime(CLOCK_REALTIME, &rt);
    struct timeval tv;
    gettimeofday(&tv, NULL);
    check("gettimeofday agrees with CLOCK_REALTIME (within 1s)", labs(tv.tv_sec - rt.tv_sec) <= 1);
    check("time() agrees", labs(time(NULL) - rt.tv_sec) <= 1);
    check("realtime after 2020", rt.tv_sec > 1577836800L);
    clock_gettime(CLOCK_TAI, &tai);
    check("TAI >= REALTIME", tai.tv_sec >= rt.tv_sec);
    struct timezone tz;
    rep("gettimeofday with a timezone", gettimeofday(&tv, &tz));

    pthread_t t;
    void *res;
    pthread_create(&t, NULL, spin, NULL);
    pthread_join(t, &res);
    check("THREAD_CPUTIME of a spinning thread >= 50ms", (long)res);
    clockid_t tc;
    pthread_getcpuclockid(pthread_self(), &tc);
    rep("pthread_getcpuclockid clock readable", clock_gettime(tc, &a));
    struct timespec p1, p2;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &p1);
    check("PROCESS_CPUTIME includes the finished thread", ns(p1) >= 50000000L);
    sleep_ms(50);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &p2);
    check("sleeping costs little CPU (< 30ms)", ns(p2) - ns(p1) < 30000000L);
    done();
}
