// setitimer/getitimer/alarm: ITIMER_REAL periodic SIGALRM, ITIMER_PROF, error cases.
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

static void report(const char *what, int r) {
    int e = errno;
    printf("%s: %d %s\n", what, r, r < 0 ? strerror(e) : "ok");
}

static volatile sig_atomic_t alrm, prof;
static void on_alrm(int s) { (void)s; alrm++; }
static void on_prof(int s) { (void)s; prof++; }

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    printf("alarm(10) first: %u\n", alarm(10));
    unsigned left = alarm(0);
    printf("alarm(0) returns 9 or 10: %s\n", (left == 10 || left == 9) ? "yes" : "no");
    printf("alarm(0) again: %u\n", alarm(0));

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alrm;
    sigaction(SIGALRM, &sa, NULL);
    sa.sa_handler = on_prof;
    sigaction(SIGPROF, &sa, NULL);

    struct itimerval it = {{0, 20000}, {0, 50000}}, old, cur;
    printf("setitimer REAL: %d\n", setitimer(ITIMER_REAL, &it, &old));
    printf("old value was zero: %s\n", (old.it_value.tv_sec == 0 && old.it_value.tv_usec == 0) ? "yes" : "no");
    getitimer(ITIMER_REAL, &cur);
    printf("interval: %ld.%06ld\n", (long)cur.it_interval.tv_sec, (long)cur.it_interval.tv_usec);
    printf("value in (0, 50ms]: %s\n",
           (cur.it_value.tv_sec == 0 && cur.it_value.tv_usec > 0 && cur.it_value.tv_usec <= 50000) ? "yes" : "no");
    sigset_t none;
    sigemptyset(&none);
    while (alrm < 5)
        sigsuspend(&none);
    struct itimerval zero = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &zero, &old);
    printf("got %d SIGALRM\n", (int)alrm);
    printf("old interval: %ld.%06ld\n", (long)old.it_interval.tv_sec, (long)old.it_interval.tv_usec);
    getitimer(ITIMER_REAL, &cur);
    printf("disarmed: %s\n", (cur.it_value.tv_sec == 0 && cur.it_value.tv_usec == 0) ? "yes" : "no");

    // One-shot: alarm via setitimer without interval, then pause.
    struct itimerval once = {{0, 0}, {0, 30000}};
    alrm = 0;
    setitimer(ITIMER_REAL, &once, NULL);
    pause();
    printf("one-shot fired: %d\n", (int)alrm);
    getitimer(ITIMER_REAL, &cur);
    printf("one-shot disarmed: %s\n", (cur.it_value.tv_sec == 0 && cur.it_value.tv_usec == 0) ? "yes" : "no");

    // ITIMER_PROF while spinning.
    struct itimerval p = {{0, 0}, {0, 20000}};
    setitimer(ITIMER_PROF, &p, NULL);
    volatile unsigned long spin = 0;
    while (!prof)
        spin++;
    printf("SIGPROF while spinning: %d\n", (int)prof);

    struct itimerval bad = {{0, 0}, {0, 1000000}};
    errno = 0;
    report("usec=1000000", setitimer(ITIMER_REAL, &bad, NULL));
    errno = 0;
    report("which=7", setitimer(7, &it, NULL));
    errno = 0;
    report("getitimer which=-1", getitimer(-1, &cur));

    // alarm then exec-less fork: the child does not inherit the timer.
    alarm(5);
    pid_t c = fork();
    if (c == 0) {
        _exit(alarm(0) == 0 ? 0 : 1);
    }
    int st;
    waitpid(c, &st, 0);
    printf("child had no alarm: %s\n", WEXITSTATUS(st) == 0 ? "yes" : "no");
    alarm(0);
    printf("done: ok\n");
    return 0;
}
