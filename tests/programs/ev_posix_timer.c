// POSIX timers: SIGEV_SIGNAL (si_value, si_code, overruns), SIGEV_THREAD_ID, SIGEV_NONE,
// SIGEV_THREAD (glibc helper thread), absolute times, errors.
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static void report(const char *what, int r) {
    int e = errno;
    printf("%s: %d %s\n", what, r, r < 0 ? strerror(e) : "ok");
}

static volatile sig_atomic_t hits, code_ok, value_ok;
static int cookie;
static timer_t t1;
static volatile int overrun_seen = -1;

static void on_rt(int s, siginfo_t *si, void *uc) {
    (void)s; (void)uc;
    hits++;
    if (si->si_code == SI_TIMER) code_ok++;
    if (si->si_value.sival_ptr == &cookie) value_ok++;
    overrun_seen = timer_getoverrun(t1);
}

static volatile pid_t worker_tid;
static volatile int worker_got = -1, worker_code;
static void *worker(void *arg) {
    (void)arg;
    worker_tid = syscall(SYS_gettid);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    siginfo_t si;
    int r = sigwaitinfo(&set, &si);
    worker_got = (r == SIGUSR1 && si.si_int == 77) ? 1 : 0;
    worker_code = si.si_code;
    return NULL;
}

static volatile int cb_runs;
static void cb(union sigval v) { if (v.sival_int == 42) __atomic_add_fetch(&cb_runs, 1, __ATOMIC_SEQ_CST); }

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_rt;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGRTMIN + 1, &sa, NULL);

    struct sigevent sev;
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_SIGNAL;
    sev.sigev_signo = SIGRTMIN + 1;
    sev.sigev_value.sival_ptr = &cookie;
    printf("timer_create: %d\n", timer_create(CLOCK_MONOTONIC, &sev, &t1));
    struct itimerspec its = {{0, 10000000}, {0, 10000000}}, cur, old;
    printf("timer_settime: %d\n", timer_settime(t1, 0, &its, NULL));
    timer_gettime(t1, &cur);
    printf("interval: %ld.%09ld\n", (long)cur.it_interval.tv_sec, cur.it_interval.tv_nsec);
    printf("value in (0,10ms]: %s\n", (cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec > 0 && cur.it_value.tv_nsec <= 10000000) ? "yes" : "no");
    sigset_t none;
    sigemptyset(&none);
    while (hits < 3)
        sigsuspend(&none);
    printf("hits>=3, si_code SI_TIMER: %s, sival_ptr: %s\n", code_ok == hits ? "yes" : "no", value_ok == hits ? "yes" : "no");

    // Overruns: block the signal for a while, then let it in.
    sigset_t rt, oldmask;
    sigemptyset(&rt);
    sigaddset(&rt, SIGRTMIN + 1);
    sigprocmask(SIG_BLOCK, &rt, &oldmask);
    int before = hits;
    sleep_ms(80);
    sigprocmask(SIG_SETMASK, &oldmask, NULL);
    while (hits == before)
        sigsuspend(&none);
    printf("one signal for many expirations, overrun > 0: %s\n", overrun_seen > 0 ? "yes" : "no");

    memset(&its, 0, sizeof its);
    printf("disarm: %d\n", timer_settime(t1, 0, &its, &old));
    printf("old interval: %ld.%09ld\n", (long)old.it_interval.tv_sec, old.it_interval.tv_nsec);
    timer_gettime(t1, &cur);
    printf("disarmed: %s\n", cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec == 0 ? "yes" : "no");
    printf("timer_delete: %d\n", timer_delete(t1));
    errno = 0;
    report("delete again", timer_delete(t1));

    // Absolute time in the past: fires at once.
    timer_t t2;
    sev.sigev_value.sival_ptr = &cookie;
    timer_create(CLOCK_REALTIME, &sev, &t2);
    t1 = t2;
    struct itimerspec past = {{0, 0}, {1, 0}};
    before = hits;
    timer_settime(t2, TIMER_ABSTIME, &past, NULL);
    while (hits == before)
        sigsuspend(&none);
    printf("absolute past fired: yes\n");
    timer_delete(t2);

    // SIGEV_NONE: no signal, time still runs down.
    timer_t t3;
    struct sigevent none_ev;
    memset(&none_ev, 0, sizeof none_ev);
    none_ev.sigev_notify = SIGEV_NONE;
    timer_create(CLOCK_MONOTONIC, &none_ev, &t3);
    struct itimerspec shortone = {{0, 0}, {0, 20000000}};
    timer_settime(t3, 0, &shortone, NULL);
    sleep_ms(40);
    timer_gettime(t3, &cur);
    printf("SIGEV_NONE expired: %s\n", cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec == 0 ? "yes" : "no");
    timer_delete(t3);

    // SIGEV_THREAD_ID: the signal goes to one thread.
    sigset_t u1;
    sigemptyset(&u1);
    sigaddset(&u1, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &u1, NULL);
    pthread_t th;
    pthread_create(&th, NULL, worker, NULL);
    while (!worker_tid)
        sleep_ms(1);
    timer_t t4;
    struct sigevent tev;
    memset(&tev, 0, sizeof tev);
    tev.sigev_notify = SIGEV_THREAD_ID;
    tev.sigev_signo = SIGUSR1;
    tev.sigev_value.sival_int = 77;
    tev._sigev_un._tid = worker_tid;
    printf("create THREAD_ID: %d\n", timer_create(CLOCK_MONOTONIC, &tev, &t4));
    struct itimerspec once = {{0, 0}, {0, 5000000}};
    timer_settime(t4, 0, &once, NULL);
    pthread_join(th, NULL);
    printf("worker thread got it: %d, SI_TIMER: %s\n", worker_got, worker_code == SI_TIMER ? "yes" : "no");
    timer_delete(t4);
    tev._sigev_un._tid = 999999;
    errno = 0;
    report("THREAD_ID of a stranger", timer_create(CLOCK_MONOTONIC, &tev, &t4));

    // SIGEV_THREAD: glibc runs the callback in a helper thread.
    timer_t t5;
    struct sigevent thev;
    memset(&thev, 0, sizeof thev);
    thev.sigev_notify = SIGEV_THREAD;
    thev.sigev_notify_function = cb;
    thev.sigev_value.sival_int = 42;
    printf("create SIGEV_THREAD: %d\n", timer_create(CLOCK_MONOTONIC, &thev, &t5));
    struct itimerspec p5 = {{0, 5000000}, {0, 5000000}};
    timer_settime(t5, 0, &p5, NULL);
    for (int i = 0; i < 2000 && __atomic_load_n(&cb_runs, __ATOMIC_SEQ_CST) < 2; i++)
        sleep_ms(1);
    printf("callback ran twice: %s\n", cb_runs >= 2 ? "yes" : "no");
    timer_delete(t5);

    errno = 0;
    report("bad clock", timer_create(12345, &sev, &t1));
    sev.sigev_notify = 99;
    errno = 0;
    report("bad notify", timer_create(CLOCK_MONOTONIC, &sev, &t1));
    sev.sigev_notify = SIGEV_SIGNAL;
    sev.sigev_signo = 65;
    errno = 0;
    report("bad signo", timer_create(CLOCK_MONOTONIC, &sev, &t1));
    printf("done: ok\n");
    return 0;
}
