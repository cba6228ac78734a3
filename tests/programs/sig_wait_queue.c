/* Waiting for signals and queueing: sigpending, rt_sigtimedwait (timeout, siginfo), sigwaitinfo,
 * rt_sigsuspend atomically swapping the mask, realtime signals queued with their values in
 * order while standard ones coalesce, lowest signal delivered first, the queue limit is not
 * hit by a few dozen signals, pending signals survive fork only in the parent. */
#include "moat_test.h"
#include <sys/syscall.h>

static int order[64], norder;
static int values[64], nvalues;
static void rec(int s, siginfo_t *si, void *uc) {
    (void)uc;
    if (norder < 64) order[norder++] = s;
    if (s >= SIGRTMIN && nvalues < 64) values[nvalues++] = si->si_value.sival_int;
}

int main(void) {
    setup();
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = rec;
    sa.sa_flags = SA_SIGINFO;
    /* SIGCHLD keeps its default (ignore): the children below must not add deliveries */
    for (int s = 1; s < SIGRTMAX; s++)
        if (s != SIGKILL && s != SIGSTOP && s != SIGSEGV && s != SIGBUS && s != SIGILL && s != SIGFPE && s != SIGCHLD)
            sigaction(s, &sa, NULL);

    sigset_t block, old;
    sigfillset(&block);
    sigprocmask(SIG_BLOCK, &block, &old);
    kill(getpid(), SIGUSR1);
    kill(getpid(), SIGUSR1);
    kill(getpid(), SIGUSR1);
    for (int i = 0; i < 3; i++) sigqueue(getpid(), SIGRTMIN + 1, (union sigval){.sival_int = 10 + i});
    sigqueue(getpid(), SIGRTMIN, (union sigval){.sival_int = 99});
    kill(getpid(), SIGTERM);
    kill(getpid(), SIGHUP);
    sigset_t p;
    sigpending(&p);
    printf("pending: HUP=%d USR1=%d TERM=%d RTMIN=%d RTMIN+1=%d USR2=%d\n", sigismember(&p, SIGHUP), sigismember(&p, SIGUSR1),
           sigismember(&p, SIGTERM), sigismember(&p, SIGRTMIN), sigismember(&p, SIGRTMIN + 1), sigismember(&p, SIGUSR2));
    pid_t c = fork();
    if (c == 0) {
        sigset_t cp;
        sigpending(&cp);
        _exit(sigismember(&cp, SIGUSR1) ? 1 : 0);
    }
    reap("child's pending set is empty (0)", c);
    norder = nvalues = 0;
    sigprocmask(SIG_SETMASK, &old, NULL);
    printf("delivery order:");
    for (int i = 0; i < norder; i++) printf(" %s", order[i] >= SIGRTMIN ? (order[i] == SIGRTMIN ? "RTMIN" : "RTMIN+1") : sigabbrev_np(order[i]));
    printf("\nrt values:");
    for (int i = 0; i < nvalues; i++) printf(" %d", values[i]);
    printf("\n");

    // sigtimedwait.
    sigset_t w;
    sigemptyset(&w);
    sigaddset(&w, SIGUSR2);
    sigprocmask(SIG_BLOCK, &w, NULL);
    struct timespec to = {0, 30000000};
    long t0 = now_ms(CLOCK_MONOTONIC);
    int r = sigtimedwait(&w, NULL, &to);
    printf("sigtimedwait timeout: %s, waited >= 25ms: %s\n", r < 0 ? errname(errno) : "got one",
           now_ms(CLOCK_MONOTONIC) - t0 >= 25 ? "yes" : "no");
    sigqueue(getpid(), SIGUSR2, (union sigval){.sival_int = 5});
    siginfo_t si;
    memset(&si, 0, sizeof si);
    r = sigtimedwait(&w, &si, &to);
    printf("sigtimedwait: %s code=%s value=%d pid_ok=%d\n", r > 0 ? sigabbrev_np(r) : errname(errno), sicode_name(r, si.si_code),
           si.si_value.sival_int, si.si_pid == getpid());
    struct timespec zero = {0, 0};
    rep_err("sigtimedwait zero timeout, nothing pending", sigtimedwait(&w, &si, &zero));
    struct timespec badt = {0, -1};
    rep_err("sigtimedwait bad timeout", sigtimedwait(&w, &si, &badt));
    pid_t me = getpid();
    c = fork();
    if (c == 0) {
        sleep_ms(50);
        kill(me, SIGUSR2);
        _exit(0);
    }
    r = sigwaitinfo(&w, &si);
    printf("sigwaitinfo (sent by a child): %s code=%s from child: %s\n", sigabbrev_np(r), sicode_name(r, si.si_code),
           si.si_pid == c ? "yes" : "no");
    waitpid(c, NULL, 0);
    // The signal taken by sigwaitinfo is not also delivered to the handler.
    norder = 0;
    sigprocmask(SIG_UNBLOCK, &w, NULL);
    printf("handler runs afterwards: %d\n", norder);

    // sigsuspend: block USR2 normally, let it in only while suspended.
    sigprocmask(SIG_BLOCK, &w, NULL);
    c = fork();
    if (c == 0) {
        sleep_ms(50);
        kill(me, SIGUSR2);
        _exit(0);
    }
    sigset_t during;
    sigprocmask(SIG_SETMASK, NULL, &during);
    sigdelset(&during, SIGUSR2);
    norder = 0;
    r = sigsuspend(&during);
    sigset_t after;
    sigprocmask(SIG_SETMASK, NULL, &after);
    printf("sigsuspend: %s, handler ran for %s, mask restored: %s\n", errname(errno), norder ? sigabbrev_np(order[0]) : "-",
           sigismember(&after, SIGUSR2) ? "yes" : "no");
    waitpid(c, NULL, 0);

    // Many realtime signals queued.
    sigset_t rt;
    sigemptyset(&rt);
    sigaddset(&rt, SIGRTMIN + 2);
    sigprocmask(SIG_BLOCK, &rt, NULL);
    int queued = 0;
    for (int i = 0; i < 40; i++)
        if (sigqueue(getpid(), SIGRTMIN + 2, (union sigval){.sival_int = i}) == 0) queued++;
    nvalues = 0;
    sigprocmask(SIG_UNBLOCK, &rt, NULL);
    int inorder = 1;
    for (int i = 0; i < nvalues; i++)
        if (values[i] != i) inorder = 0;
    printf("queued %d realtime signals, delivered %d, in order: %s\n", queued, nvalues, inorder ? "yes" : "no");
    rep_err("rt_sigtimedwait bad sigsetsize", syscall(SYS_rt_sigtimedwait, &w, &si, &to, 4));
    rep_err("rt_sigsuspend bad sigsetsize", syscall(SYS_rt_sigsuspend, &w, 4));
    done();
}
