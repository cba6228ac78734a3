/* poll, ppoll, select and pselect6 over pipes, a socketpair, eventfd, timerfd, signalfd and a
 * regular file: readiness bits (POLLIN/POLLOUT/POLLHUP/POLLERR/POLLNVAL), timeouts (select
 * writes back the time left), ppoll/pselect6 masks that let a blocked signal in only while
 * waiting, errors (EBADF, EINVAL), many fds at once. */
#include "moat_test.h"
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/select.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>

static volatile int got;
static void on_usr1(int s) { (void)s; got++; }

static void pr(const char *what, struct pollfd *p, int n, int r) {
    printf("%s: %d:", what, r);
    for (int i = 0; i < n; i++) printf(" %#x", p[i].revents);
    printf("\n");
}

int main(void) {
    setup();
    int pp[2], sp[2];
    pipe(pp);
    socketpair(AF_UNIX, SOCK_STREAM, 0, sp);
    int ev = eventfd(0, EFD_NONBLOCK);
    int tf = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
    sigset_t m;
    sigemptyset(&m);
    sigaddset(&m, SIGUSR2);
    sigprocmask(SIG_BLOCK, &m, NULL);
    int sf = signalfd(-1, &m, SFD_NONBLOCK);
    int file = open("/etc/passwd", O_RDONLY);
    int r;

    struct pollfd p[7] = {{pp[0], POLLIN, 0}, {pp[1], POLLOUT, 0}, {sp[0], POLLIN | POLLOUT, 0}, {ev, POLLIN, 0},
                          {tf, POLLIN, 0},    {sf, POLLIN, 0},     {file, POLLIN | POLLOUT, 0}};
    pr("poll idle", p, 7, poll(p, 7, 0));
    write(pp[1], "x", 1);
    write(sp[1], "y", 1);
    eventfd_write(ev, 3);
    struct itimerspec its = {{0, 0}, {0, 1000000}};
    timerfd_settime(tf, 0, &its, NULL);
    sleep_ms(20);
    kill(getpid(), SIGUSR2);
    pr("poll all ready", p, 7, poll(p, 7, 0));
    char buf[64];
    read(pp[0], buf, 1);
    read(sp[0], buf, 1);
    eventfd_t v;
    eventfd_read(ev, &v);
    uint64_t ticks;
    read(tf, &ticks, 8);
    struct signalfd_siginfo ssi;
    read(sf, &ssi, sizeof ssi);
    pr("poll drained", p, 7, poll(p, 7, 0));

    close(pp[1]);
    struct pollfd h = {pp[0], POLLIN, 0};
    pr("pipe reader after the writer closed", &h, 1, poll(&h, 1, 0));
    int q[2];
    pipe(q);
    close(q[0]);
    struct pollfd e = {q[1], POLLOUT, 0};
    pr("pipe writer after the reader closed", &e, 1, poll(&e, 1, 0));
    shutdown(sp[1], SHUT_WR);
    struct pollfd s = {sp[0], POLLIN | POLLRDHUP, 0};
    pr("socket after the peer's SHUT_WR", &s, 1, poll(&s, 1, 0));
    struct pollfd nv[2] = {{999, POLLIN, 0}, {-1, POLLIN, 0}};
    pr("closed fd and negative fd", nv, 2, poll(nv, 2, 0));
    long t0 = now_ms(CLOCK_MONOTONIC);
    struct pollfd none = {-1, 0, 0};
    // The call comes first: argument evaluation order is unspecified.
    r = poll(&none, 1, 50);
    printf("poll timeout 50ms: %d, waited >= 45ms: %s\n", r, now_ms(CLOCK_MONOTONIC) - t0 >= 45 ? "yes" : "no");
    rep_err("poll nfds > RLIMIT_NOFILE", syscall(SYS_poll, p, 100000, 0));
    rep_err("poll bad pointer", syscall(SYS_poll, (void *)8, 1, 0));

    // select
    int a[2];
    pipe(a);
    fd_set rs, ws, xs;
    FD_ZERO(&rs);
    FD_ZERO(&ws);
    FD_ZERO(&xs);
    FD_SET(a[0], &rs);
    FD_SET(a[1], &ws);
    FD_SET(file, &rs);
    struct timeval tv = {0, 0};
    r = select(FD_SETSIZE > 64 ? 64 : FD_SETSIZE, &rs, &ws, &xs, &tv);
    printf("select: %d read(pipe)=%d read(file)=%d write(pipe)=%d\n", r, FD_ISSET(a[0], &rs), FD_ISSET(file, &rs), FD_ISSET(a[1], &ws));
    FD_ZERO(&rs);
    FD_SET(a[0], &rs);
    tv.tv_sec = 0;
    tv.tv_usec = 300000;
    pid_t me = getpid();
    pid_t c = fork();
    if (c == 0) {
        sleep_ms(100);
        write(a[1], "z", 1);
        (void)me;
        _exit(0);
    }
    r = select(a[0] + 1, &rs, NULL, NULL, &tv);
    printf("select woken by a child's write: %d, time left written back (between 0.05 and 0.3s): %s\n", r,
           tv.tv_usec > 50000 && tv.tv_usec < 300000 ? "yes" : "no");
    waitpid(c, NULL, 0);
    int closed = dup(0);
    close(closed);
    FD_ZERO(&rs);
    FD_SET(closed, &rs);
    tv.tv_usec = 0;
    rep_err("select on a closed fd", select(closed + 1, &rs, NULL, NULL, &tv));
    rep_err("select negative nfds", select(-1, NULL, NULL, NULL, &tv));
    struct timeval badtv = {0, -1};
    rep_err("select bad timeout", select(1, NULL, NULL, NULL, &badtv));
    t0 = now_ms(CLOCK_MONOTONIC);
    tv.tv_sec = 0;
    tv.tv_usec = 40000;
    r = select(0, NULL, NULL, NULL, &tv);
    printf("select as a sleep: %d, waited >= 35ms: %s\n", r, now_ms(CLOCK_MONOTONIC) - t0 >= 35 ? "yes" : "no");

    // ppoll / pselect with a mask that lets a blocked SIGUSR1 in.
    signal(SIGUSR1, on_usr1);
    sigset_t b1;
    sigemptyset(&b1);
    sigaddset(&b1, SIGUSR1);
    sigprocmask(SIG_BLOCK, &b1, NULL);
    kill(getpid(), SIGUSR1);
    printf("SIGUSR1 pending and blocked, handler ran: %d\n", got);
    sigset_t open_mask;
    sigprocmask(SIG_SETMASK, NULL, &open_mask);
    sigdelset(&open_mask, SIGUSR1);
    struct pollfd pw = {a[0], POLLIN, 0};
    read(a[0], buf, 1);
    struct timespec ts = {1, 0};
    r = ppoll(&pw, 1, &ts, &open_mask);
    printf("ppoll with SIGUSR1 unmasked: %s, handler ran: %d\n", r < 0 ? errname(errno) : "returned", got);
    sigset_t now;
    sigprocmask(SIG_SETMASK, NULL, &now);
    printf("mask restored after ppoll: %s\n", sigismember(&now, SIGUSR1) ? "yes" : "no");
    kill(getpid(), SIGUSR1);
    FD_ZERO(&rs);
    FD_SET(a[0], &rs);
    r = pselect(a[0] + 1, &rs, NULL, NULL, &ts, &open_mask);
    printf("pselect with SIGUSR1 unmasked: %s, handler ran: %d\n", r < 0 ? errname(errno) : "returned", got);
    write(a[1], "w", 1);
    r = ppoll(&pw, 1, &ts, NULL);
    printf("ppoll ready: %d %#x\n", r, pw.revents);
    struct timespec zero = {0, 0};
    read(a[0], buf, 1);
    printf("ppoll zero timeout: %d\n", ppoll(&pw, 1, &zero, NULL));
    struct timespec badts = {0, 1000000000};
    rep_err("ppoll bad timeout", ppoll(&pw, 1, &badts, NULL));
    rep_err("ppoll bad sigsetsize", syscall(SYS_ppoll, &pw, 1, &zero, &open_mask, 4));

    // Many fds at once.
    int fds[200][2], n = 0;
    for (int i = 0; i < 200; i++)
        if (pipe(fds[i]) == 0) n++;
    struct pollfd big[200];
    for (int i = 0; i < n; i++) {
        big[i].fd = fds[i][0];
        big[i].events = POLLIN;
        if (i % 7 == 0) write(fds[i][1], "k", 1);
    }
    printf("poll over %d pipes, ready: %d\n", n, poll(big, n, 0));
    done();
}
