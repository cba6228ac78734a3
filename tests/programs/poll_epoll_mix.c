/* epoll over what ev_epoll.c does not cover: sockets (stream and datagram, listening sockets,
 * peer hang-up with EPOLLRDHUP), timerfd and signalfd, a regular file (EPERM), edge-triggered
 * sockets read in a loop until EAGAIN, EPOLLONESHOT re-arming, EPOLLEXCLUSIVE, epoll_pwait2
 * timeouts, and epoll fds shared across fork. */
#include "moat_test.h"
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/un.h>

static int wait_all(int ep, int timeout, unsigned long long *tags, unsigned *evs) {
    struct epoll_event out[16];
    int n = epoll_wait(ep, out, 16, timeout);
    /* sort by tag for a stable order */
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            if (out[j].data.u64 < out[i].data.u64) {
                struct epoll_event t = out[i];
                out[i] = out[j];
                out[j] = t;
            }
    for (int i = 0; i < n; i++) {
        tags[i] = out[i].data.u64;
        evs[i] = out[i].events;
    }
    return n;
}
static void show(const char *what, int ep, int timeout) {
    unsigned long long t[16];
    unsigned e[16];
    int n = wait_all(ep, timeout, t, e);
    printf("%s: %d", what, n);
    for (int i = 0; i < n; i++) printf(" [%llu %#x]", t[i], e[i]);
    printf("\n");
}
static void add(int ep, int fd, unsigned ev, unsigned long long tag) {
    struct epoll_event e = {.events = ev, .data.u64 = tag};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e) < 0) printf("add %llu: %s\n", tag, errname(errno));
}

int main(void) {
    setup();
    int ep = epoll_create1(0);
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bind(ls, (void *)&sa, sizeof sa);
    socklen_t sl = sizeof sa;
    getsockname(ls, (void *)&sa, &sl);
    listen(ls, 8);
    add(ep, ls, EPOLLIN, 1);
    show("listening socket idle", ep, 0);
    int cl = socket(AF_INET, SOCK_STREAM, 0);
    connect(cl, (void *)&sa, sizeof sa);
    show("listening socket with a pending connection", ep, 1000);
    int srv = accept4(ls, NULL, NULL, SOCK_NONBLOCK);
    show("after accept", ep, 0);
    add(ep, srv, EPOLLIN | EPOLLRDHUP | EPOLLET, 2);
    add(ep, cl, EPOLLOUT, 3);
    show("connected socket writable", ep, 0);
    struct epoll_event mod = {.events = EPOLLIN, .data.u64 = 3};
    epoll_ctl(ep, EPOLL_CTL_MOD, cl, &mod);
    char big[3000];
    memset(big, 'b', sizeof big);
    write(cl, big, sizeof big);
    show("ET socket after 3000 bytes", ep, 1000);
    char buf[1024];
    long got = 0;
    ssize_t n;
    while ((n = read(srv, buf, sizeof buf)) > 0) got += n;
    printf("ET drain loop read %ld then %s\n", got, errname(errno));
    show("ET socket drained, no new data", ep, 0);
    shutdown(cl, SHUT_WR);
    show("peer SHUT_WR (EPOLLRDHUP)", ep, 1000);
    close(cl);
    epoll_ctl(ep, EPOLL_CTL_DEL, srv, NULL);
    epoll_ctl(ep, EPOLL_CTL_DEL, ls, NULL);

    int du[2];
    socketpair(AF_UNIX, SOCK_DGRAM, 0, du);
    add(ep, du[0], EPOLLIN | EPOLLONESHOT, 4);
    send(du[1], "d1", 2, 0);
    send(du[1], "d2", 2, 0);
    show("dgram ONESHOT", ep, 0);
    show("dgram ONESHOT disarmed", ep, 0);
    struct epoll_event re = {.events = EPOLLIN | EPOLLONESHOT, .data.u64 = 4};
    epoll_ctl(ep, EPOLL_CTL_MOD, du[0], &re);
    show("dgram re-armed", ep, 0);
    epoll_ctl(ep, EPOLL_CTL_DEL, du[0], NULL);

    int tf = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
    add(ep, tf, EPOLLIN, 5);
    struct itimerspec its = {{0, 0}, {0, 30000000}};
    timerfd_settime(tf, 0, &its, NULL);
    long t0 = now_ms(CLOCK_MONOTONIC);
    show("timerfd fires", ep, 1000);
    check("after >= 25ms", now_ms(CLOCK_MONOTONIC) - t0 >= 25);
    uint64_t ticks;
    read(tf, &ticks, 8);
    epoll_ctl(ep, EPOLL_CTL_DEL, tf, NULL);

    sigset_t m;
    sigemptyset(&m);
    sigaddset(&m, SIGUSR1);
    sigprocmask(SIG_BLOCK, &m, NULL);
    int sf = signalfd(-1, &m, SFD_NONBLOCK);
    add(ep, sf, EPOLLIN, 6);
    show("signalfd idle", ep, 0);
    pid_t me = getpid();
    pid_t c = fork();
    if (c == 0) {
        sleep_ms(30);
        kill(me, SIGUSR1);
        _exit(0);
    }
    show("signalfd woken by a child's kill", ep, 2000);
    waitpid(c, NULL, 0);
    struct signalfd_siginfo si;
    read(sf, &si, sizeof si);
    printf("signalfd read: %s from child %s\n", sigabbrev_np(si.ssi_signo), si.ssi_pid == (unsigned)c ? "yes" : "no");
    epoll_ctl(ep, EPOLL_CTL_DEL, sf, NULL);

    int file = open("/etc/passwd", O_RDONLY);
    struct epoll_event fe = {.events = EPOLLIN};
    rep_err("epoll_ctl ADD of a regular file", epoll_ctl(ep, EPOLL_CTL_ADD, file, &fe));
    int pp[2];
    pipe(pp);
    fe.events = EPOLLIN | EPOLLEXCLUSIVE;
    rep("EPOLLEXCLUSIVE add", epoll_ctl(ep, EPOLL_CTL_ADD, pp[0], &fe));
    rep_err("EPOLLEXCLUSIVE with MOD", epoll_ctl(ep, EPOLL_CTL_MOD, pp[0], &fe));
    epoll_ctl(ep, EPOLL_CTL_DEL, pp[0], NULL);

    struct timespec to = {0, 40000000};
    struct epoll_event out[4];
    t0 = now_ms(CLOCK_MONOTONIC);
    long r = syscall(SYS_epoll_pwait2, ep, out, 4, &to, NULL, 8);
    printf("epoll_pwait2 40ms timeout: %ld, waited >= 35ms: %s\n", r, now_ms(CLOCK_MONOTONIC) - t0 >= 35 ? "yes" : "no");
    struct timespec zero = {0, 0};
    printf("epoll_pwait2 zero timeout: %ld\n", syscall(SYS_epoll_pwait2, ep, out, 4, &zero, NULL, 8));

    // The interest list is shared by a forked child.
    add(ep, pp[0], EPOLLIN, 7);
    c = fork();
    if (c == 0) {
        struct epoll_event o;
        int k = epoll_wait(ep, &o, 1, 2000);
        _exit(k == 1 && o.data.u64 == 7 ? 0 : 1);
    }
    sleep_ms(30);
    write(pp[1], "f", 1);
    reap("child waiting on the inherited epoll fd (0)", c);
    rep_err("epoll_wait maxevents 0", epoll_wait(ep, out, 0, 0));
    rep_err("epoll_wait on a non-epoll fd", epoll_wait(pp[0], out, 1, 0));
    rep_err("epoll_create1 bad flags", epoll_create1(1));
    rep_err("epoll_create size 0", epoll_create(0));
    done();
}
