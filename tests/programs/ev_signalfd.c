// signalfd: reading blocked signals, siginfo fields, poll/epoll readiness, several signals
// per read, changing the mask, rt signals with values, SIGCHLD from a child.
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

static void report(const char *what, long r) {
    int e = errno;
    printf("%s: %ld %s\n", what, r, r < 0 ? strerror(e) : "ok");
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGUSR1);
    sigaddset(&mask, SIGUSR2);
    sigaddset(&mask, SIGCHLD);
    sigaddset(&mask, SIGRTMIN + 2);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    int sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    struct signalfd_siginfo si[4];
    report("empty read", read(sfd, si, sizeof si));
    report("short read", read(sfd, si, 10));

    struct pollfd pf = {.fd = sfd, .events = POLLIN};
    int n;
    printf("poll idle: %d\n", poll(&pf, 1, 0));
    kill(getpid(), SIGUSR1);
    n = poll(&pf, 1, 0);
    printf("poll after kill: %d revents=%#x\n", n, pf.revents);
    long r = read(sfd, si, sizeof si);
    printf("read: %ld signo=%u code=%d pid ok: %s uid=%u\n", r / (long)sizeof si[0], si[0].ssi_signo, si[0].ssi_code,
           si[0].ssi_pid == (unsigned)getpid() ? "yes" : "no", si[0].ssi_uid);

    // Several at once, lowest first.
    kill(getpid(), SIGUSR2);
    kill(getpid(), SIGUSR1);
    union sigval val = {.sival_int = 1234};
    sigqueue(getpid(), SIGRTMIN + 2, val);
    r = read(sfd, si, sizeof si);
    printf("read %ld:", r / (long)sizeof si[0]);
    for (int i = 0; i < r / (long)sizeof si[0]; i++)
        printf(" %u", si[i].ssi_signo);
    printf("\n");
    printf("rt value: %d code SI_QUEUE: %s\n", si[2].ssi_int, si[2].ssi_code == SI_QUEUE ? "yes" : "no");

    // epoll, and a blocking read woken by a child's exit (SIGCHLD).
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 9}, out;
    epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev);
    printf("epoll idle: %d\n", epoll_wait(ep, &out, 1, 0));
    pid_t c = fork();
    if (c == 0) {
        usleep(20000);
        _exit(7);
    }
    n = epoll_wait(ep, &out, 1, 5000);
    printf("epoll woken: %d data=%u\n", n, out.data.u32);
    r = read(sfd, si, sizeof si);
    printf("SIGCHLD: %s code=%d status=%d pid ok: %s\n", si[0].ssi_signo == SIGCHLD ? "yes" : "no", si[0].ssi_code,
           si[0].ssi_status, si[0].ssi_pid == (unsigned)c ? "yes" : "no");
    waitpid(c, NULL, 0);

    // Blocking read (without SFD_NONBLOCK) woken by a signal from a child.
    int bfd = signalfd(-1, &mask, 0);
    c = fork();
    if (c == 0) {
        usleep(20000);
        kill(getppid(), SIGUSR2);
        _exit(0);
    }
    r = read(bfd, si, sizeof si[0]);
    printf("blocking read: %ld signo=%u\n", r, si[0].ssi_signo);
    waitpid(c, NULL, 0);
    while (read(sfd, si, sizeof si) > 0) {}

    // Narrowing the mask of an existing signalfd.
    sigset_t only2;
    sigemptyset(&only2);
    sigaddset(&only2, SIGUSR2);
    printf("update mask returns same fd: %s\n", signalfd(sfd, &only2, 0) == sfd ? "yes" : "no");
    kill(getpid(), SIGUSR1);
    report("USR1 not in mask", read(sfd, si, sizeof si));
    kill(getpid(), SIGUSR2);
    r = read(sfd, si, sizeof si);
    printf("USR2 read: %ld signo=%u\n", r / (long)sizeof si[0], si[0].ssi_signo);
    sigset_t pend;
    sigpending(&pend);
    printf("USR1 still pending: %s\n", sigismember(&pend, SIGUSR1) ? "yes" : "no");

    report("signalfd on non-signalfd", signalfd(0, &mask, 0));
    report("bad flags", syscall(289, -1, &mask, 8, 0x1));
    report("bad size", syscall(289, -1, &mask, 4, 0));
    // Blocked signals are queued even when their disposition would discard them; setting
    // SIG_IGN discards a pending one.
    sigset_t u;
    sigemptyset(&u);
    sigaddset(&u, SIGURG);
    sigprocmask(SIG_BLOCK, &u, NULL);
    kill(getpid(), SIGURG);
    sigpending(&pend);
    printf("default-ignored SIGURG queued while blocked: %s\n", sigismember(&pend, SIGURG) ? "yes" : "no");
    signal(SIGURG, SIG_IGN);
    sigpending(&pend);
    printf("discarded by SIG_IGN: %s\n", sigismember(&pend, SIGURG) ? "no" : "yes");
    kill(getpid(), SIGURG);
    sigpending(&pend);
    printf("SIG_IGN but blocked, queued: %s\n", sigismember(&pend, SIGURG) ? "yes" : "no");
    printf("done: ok\n");
    return 0;
}
