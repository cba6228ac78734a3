/* alarm(2) and ITIMER_REAL: alarm returns the seconds left of the previous one, alarm(0)
 * cancels, SIGALRM arrives (and kills by default), setitimer/getitimer with an interval fire
 * repeatedly, the timer is not inherited by fork but survives exec; sleep() and alarm(). */
#include "moat_test.h"
#include <sys/time.h>

static volatile int alarms;
static void on_alrm(int s) {
    (void)s;
    alarms++;
}

int main(int argc, char **argv) {
    setup();
    if (argc > 1) {
        struct itimerval it;
        getitimer(ITIMER_REAL, &it);
        printf("  after exec: timer still armed: %s\n", it.it_value.tv_sec > 0 || it.it_value.tv_usec > 0 ? "yes" : "no");
        alarm(0);
        return 0;
    }
    signal(SIGALRM, on_alrm);
    printf("first alarm(5): %u\n", alarm(5));
    unsigned left = alarm(3);
    printf("alarm(3) returns the previous one's seconds: %s\n", left == 5 || left == 4 ? "yes" : "no");
    printf("alarm(0) returns: %s\n", alarm(0) >= 2 ? ">=2" : "less");
    printf("alarm(0) again: %u\n", alarm(0));

    struct itimerval it = {{0, 0}, {0, 100000}};
    long t0 = now_ms(CLOCK_MONOTONIC);
    alarms = 0;
    setitimer(ITIMER_REAL, &it, NULL);
    while (!alarms) pause();
    long el = now_ms(CLOCK_MONOTONIC) - t0;
    printf("one-shot 100ms: fired %d, after >= 95ms: %s\n", alarms, el >= 95 ? "yes" : "no");

    struct itimerval per = {{0, 20000}, {0, 20000}}, got;
    alarms = 0;
    setitimer(ITIMER_REAL, &per, NULL);
    while (alarms < 5) pause();
    getitimer(ITIMER_REAL, &got);
    printf("periodic: 5 alarms, interval reported %ld us\n", (long)got.it_interval.tv_usec);
    struct itimerval off = {{0, 0}, {0, 0}}, old;
    setitimer(ITIMER_REAL, &off, &old);
    printf("old value has the interval: %ld\n", (long)old.it_interval.tv_usec);
    getitimer(ITIMER_REAL, &got);
    printf("disarmed: %s\n", got.it_value.tv_sec == 0 && got.it_value.tv_usec == 0 ? "yes" : "no");
    struct itimerval badv = {{0, 0}, {0, 2000000}};
    rep_err("setitimer bad usec", setitimer(ITIMER_REAL, &badv, NULL));
    rep_err("setitimer bad which", setitimer(7, &it, NULL));

    // fork: the child starts without the timer.
    it.it_value.tv_sec = 10;
    setitimer(ITIMER_REAL, &it, NULL);
    pid_t p = fork();
    if (p == 0) {
        getitimer(ITIMER_REAL, &got);
        _exit(got.it_value.tv_sec == 0 && got.it_value.tv_usec == 0 ? 0 : 1);
    }
    reap("forked child has no timer (0)", p);
    p = fork();
    if (p == 0) {
        setitimer(ITIMER_REAL, &it, NULL);
        char *av[] = {argv[0], "exec", NULL};
        execv(av[0], av);
        _exit(127);
    }
    reap("exec'd child", p);
    setitimer(ITIMER_REAL, &off, NULL);

    // Default action of SIGALRM.
    p = fork();
    if (p == 0) {
        signal(SIGALRM, SIG_DFL);
        alarm(1);
        for (;;) pause();
    }
    reap("alarm with the default action", p);

    // sleep() is interrupted by the alarm and returns the time left.
    alarm(1);
    unsigned s = sleep(3);
    printf("sleep(3) interrupted by alarm(1) returns: %s\n", s == 2 || s == 1 ? "1 or 2" : "other");
    done();
}
