// epoll over pipes and eventfd: level-triggered, edge-triggered, EPOLLONESHOT, MOD/DEL,
// errors, nested epoll, entries outliving a closed fd, blocking waits woken by another
// process, timeouts, epoll_pwait with a signal mask.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void report(const char *what, int r) {
    int e = errno;
    printf("%s: %d %s\n", what, r, r < 0 ? strerror(e) : "ok");
}

static int wait1(int ep, int timeout, struct epoll_event *ev) {
    return epoll_wait(ep, ev, 1, timeout);
}

static long ms_since(struct timespec *t0) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

static volatile sig_atomic_t got_usr1;
static void on_usr1(int s) { (void)s; got_usr1 = 1; }

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    int p[2];
    pipe(p);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    printf("epoll_create1: %s\n", ep >= 0 ? "ok" : "fail");
    printf("cloexec: %d\n", fcntl(ep, F_GETFD) & FD_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 0x1122334455667788ULL}, out[8];
    report("add read end", epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev));
    report("add again", epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev));
    printf("empty wait: %d\n", wait1(ep, 0, out));

    // Level-triggered: reported until drained.
    write(p[1], "ab", 2);
    int n = wait1(ep, 0, out);
    printf("LT wait: %d events=%#x data=%#llx\n", n, out[0].events, (unsigned long long)out[0].data.u64);
    printf("LT again: %d\n", wait1(ep, 0, out));
    char buf[64];
    read(p[0], buf, sizeof buf);
    printf("LT drained: %d\n", wait1(ep, 0, out));

    // Edge-triggered: once per write.
    ev.events = EPOLLIN | EPOLLET;
    ev.data.u32 = 7;
    report("mod to ET", epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev));
    write(p[1], "x", 1);
    printf("ET first: %d\n", wait1(ep, 0, out));
    printf("ET no new data: %d\n", wait1(ep, 0, out));
    write(p[1], "y", 1);
    printf("ET after another write: %d\n", wait1(ep, 0, out));
    read(p[0], buf, sizeof buf);
    printf("ET after drain: %d\n", wait1(ep, 0, out));

    // One-shot.
    ev.events = EPOLLIN | EPOLLONESHOT;
    report("mod to ONESHOT", epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev));
    write(p[1], "z", 1);
    printf("ONESHOT first: %d\n", wait1(ep, 0, out));
    printf("ONESHOT disarmed: %d\n", wait1(ep, 0, out));
    report("re-arm", epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev));
    printf("ONESHOT re-armed: %d\n", wait1(ep, 0, out));
    read(p[0], buf, sizeof buf);

    // EPOLLOUT on the write end, EPOLLHUP when the writer goes away.
    struct epoll_event wev = {.events = EPOLLOUT, .data.u32 = 2};
    epoll_ctl(ep, EPOLL_CTL_ADD, p[1], &wev);
    n = epoll_wait(ep, out, 8, 0);
    printf("write end writable: %d events=%#x data=%u\n", n, out[0].events, out[0].data.u32);
    report("del write end", epoll_ctl(ep, EPOLL_CTL_DEL, p[1], NULL));
    report("del again", epoll_ctl(ep, EPOLL_CTL_DEL, p[1], NULL));

    // eventfd, LT and semaphore.
    int efd = eventfd(0, EFD_NONBLOCK | EFD_SEMAPHORE);
    struct epoll_event eev = {.events = EPOLLIN | EPOLLOUT, .data.u32 = 3};
    epoll_ctl(ep, EPOLL_CTL_ADD, efd, &eev);
    n = epoll_wait(ep, out, 8, 0);
    printf("eventfd writable only: %d events=%#x\n", n, n == 1 ? out[0].events : 0);
    uint64_t v = 2;
    write(efd, &v, 8);
    n = epoll_wait(ep, out, 8, 0);
    printf("eventfd readable: %d events=%#x\n", n, out[0].events);
    read(efd, &v, 8);
    printf("semaphore read: %llu\n", (unsigned long long)v);
    read(efd, &v, 8);
    errno = 0;
    report("semaphore read empty", (int)read(efd, &v, 8));
    epoll_ctl(ep, EPOLL_CTL_DEL, efd, NULL);

    // Errors.
    int reg = open("/etc/passwd", O_RDONLY);
    report("add regular file", epoll_ctl(ep, EPOLL_CTL_ADD, reg, &ev));
    report("add itself", epoll_ctl(ep, EPOLL_CTL_ADD, ep, &ev));
    report("add bad fd", epoll_ctl(ep, EPOLL_CTL_ADD, 999, &ev));
    report("ctl on non-epoll", epoll_ctl(reg, EPOLL_CTL_ADD, p[0], &ev));
    report("bad op", epoll_ctl(ep, 99, p[0], &ev));
    report("mod missing", epoll_ctl(ep, EPOLL_CTL_MOD, efd, &ev));
    report("maxevents 0", epoll_wait(ep, out, 0, 0));
    report("wait on non-epoll", epoll_wait(reg, out, 1, 0));
    report("epoll_create(0)", epoll_create(0));
    report("epoll_create1(bad)", epoll_create1(1));
    struct epoll_event xev = {.events = EPOLLIN | EPOLLEXCLUSIVE};
    int p3[2];
    pipe(p3);
    report("add EXCLUSIVE", epoll_ctl(ep, EPOLL_CTL_ADD, p3[0], &xev));
    report("mod EXCLUSIVE", epoll_ctl(ep, EPOLL_CTL_MOD, p3[0], &xev));
    close(reg);

    // Nested epoll, and loops.
    int outer = epoll_create1(0);
    struct epoll_event oev = {.events = EPOLLIN, .data.u32 = 99};
    report("add epoll to epoll", epoll_ctl(outer, EPOLL_CTL_ADD, ep, &oev));
    report("loop", epoll_ctl(ep, EPOLL_CTL_ADD, outer, &oev));
    printf("outer idle: %d\n", epoll_wait(outer, out, 8, 0));
    write(p3[1], "q", 1);
    n = epoll_wait(outer, out, 8, 0);
    printf("outer sees inner: %d data=%u\n", n, out[0].data.u32);
    read(p3[0], buf, sizeof buf);

    // The entry lives as long as the open file description, not the fd.
    int dupfd = dup(p3[0]);
    close(p3[0]);
    write(p3[1], "r", 1);
    n = epoll_wait(ep, out, 8, 0);
    printf("closed fd but dup alive: %d\n", n);
    read(dupfd, buf, sizeof buf);
    write(p3[1], "s", 1);
    close(dupfd);
    printf("all closed: %d\n", epoll_wait(ep, out, 8, 0));

    // Blocking wait, woken by a child.
    int p2[2];
    pipe(p2);
    struct epoll_event cev = {.events = EPOLLIN, .data.u32 = 5};
    epoll_ctl(ep, EPOLL_CTL_ADD, p2[0], &cev);
    pid_t c = fork();
    if (c == 0) {
        struct timespec ts = {0, 30000000};
        nanosleep(&ts, NULL);
        write(p2[1], "w", 1);
        _exit(0);
    }
    n = epoll_wait(ep, out, 8, 5000);
    printf("woken by child: %d data=%u\n", n, out[0].data.u32);
    waitpid(c, NULL, 0);
    read(p2[0], buf, sizeof buf);

    // Timeout.
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    n = epoll_wait(ep, out, 8, 50);
    long el = ms_since(&t0);
    printf("timeout: %d after >=50ms: %s\n", n, el >= 49 ? "yes" : "no");

    // A signal interrupts with EINTR (even with SA_RESTART).
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGUSR1, &sa, NULL);
    c = fork();
    if (c == 0) {
        struct timespec ts = {0, 30000000};
        nanosleep(&ts, NULL);
        kill(getppid(), SIGUSR1);
        _exit(0);
    }
    errno = 0;
    report("interrupted wait", epoll_wait(ep, out, 8, 5000));
    printf("handler ran: %d\n", (int)got_usr1);
    waitpid(c, NULL, 0);

    // epoll_pwait: the mask in force only during the wait.
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR1);
    sigprocmask(SIG_BLOCK, &block, &old);
    got_usr1 = 0;
    raise(SIGUSR1);
    printf("pending, blocked: handler ran: %d\n", (int)got_usr1);
    sigset_t none;
    sigemptyset(&none);
    errno = 0;
    report("epoll_pwait unblocking it", epoll_pwait(ep, out, 8, 1000, &none));
    printf("handler ran: %d\n", (int)got_usr1);
    sigset_t now;
    sigprocmask(SIG_SETMASK, NULL, &now);
    printf("mask restored: %s\n", sigismember(&now, SIGUSR1) ? "yes" : "no");
    sigprocmask(SIG_SETMASK, &old, NULL);

    // maxevents smaller than the ready set: everything is reported over several calls.
    int e2 = epoll_create1(0);
    int fds[4][2];
    for (int i = 0; i < 4; i++) {
        pipe(fds[i]);
        struct epoll_event x = {.events = EPOLLIN, .data.u32 = 100 + i};
        epoll_ctl(e2, EPOLL_CTL_ADD, fds[i][0], &x);
        write(fds[i][1], "m", 1);
    }
    unsigned seen = 0;
    for (int i = 0; i < 4; i++) {
        if (epoll_wait(e2, out, 1, 0) == 1)
            seen |= 1u << (out[0].data.u32 - 100);
    }
    printf("round robin saw all four: %s\n", seen == 15 ? "yes" : "no");
    printf("done: ok\n");
    return 0;
}
