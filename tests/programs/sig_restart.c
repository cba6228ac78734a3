/* Interrupted system calls: a handler without SA_RESTART makes a blocking read/wait/
 * futex-based call fail with EINTR; with SA_RESTART the read, write to a full pipe and wait4
 * are restarted and complete; nanosleep, select, poll, epoll_wait and pause always fail with
 * EINTR; nanosleep reports the remaining time. The signals come from a child process. */
#include "moat_test.h"
#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/select.h>

static volatile int hits;
static void on_alrm(int s) {
    (void)s;
    hits++;
}

static void set_handler(int restart) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alrm;
    sa.sa_flags = restart ? SA_RESTART : 0;
    sigaction(SIGUSR1, &sa, NULL);
}

/* A child that signals us after `ms`, then (optionally) writes to fd. */
static pid_t poke(int ms, int fd) {
    pid_t me = getpid();
    pid_t p = fork();
    if (p == 0) {
        sleep_ms(ms);
        kill(me, SIGUSR1);
        if (fd >= 0) {
            sleep_ms(50);
            write(fd, "data", 4);
        }
        _exit(0);
    }
    return p;
}

int main(void) {
    setup();
    int pp[2];
    char buf[64];
    pipe(pp);

    set_handler(0);
    hits = 0;
    pid_t c = poke(150, pp[1]);
    errno = 0;
    ssize_t n = read(pp[0], buf, sizeof buf);
    printf("read without SA_RESTART: %zd %s, handler ran %d\n", n, errname(errno), hits);
    waitpid(c, NULL, 0);
    read(pp[0], buf, sizeof buf);

    set_handler(1);
    hits = 0;
    c = poke(150, pp[1]);
    n = read(pp[0], buf, sizeof buf);
    printf("read with SA_RESTART: %zd, handler ran %d\n", n, hits);
    waitpid(c, NULL, 0);

    // wait4: restarted with SA_RESTART, EINTR without.
    hits = 0;
    pid_t me = getpid();
    c = fork();
    if (c == 0) {
        sleep_ms(150);
        kill(me, SIGUSR1);
        sleep_ms(50);
        _exit(9);
    }
    int st;
    pid_t r = waitpid(c, &st, 0);
    printf("waitpid with SA_RESTART: %s %s, handler ran %d\n", r == c ? "child" : errname(errno), wstatus(st), hits);
    set_handler(0);
    hits = 0;
    c = fork();
    if (c == 0) {
        sleep_ms(150);
        kill(me, SIGUSR1);
        sleep_ms(50);
        _exit(9);
    }
    r = waitpid(c, &st, 0);
    printf("waitpid without SA_RESTART: %s, handler ran %d\n", r < 0 ? errname(errno) : "returned", hits);
    waitpid(c, &st, 0);

    // A write blocked on a full pipe.
    set_handler(1);
    int fl = fcntl(pp[1], F_GETFL);
    fcntl(pp[1], F_SETFL, fl | O_NONBLOCK);
    long filled = 0;
    while (write(pp[1], buf, sizeof buf) > 0) filled += sizeof buf;
    fcntl(pp[1], F_SETFL, fl);
    hits = 0;
    c = fork();
    if (c == 0) {
        sleep_ms(150);
        kill(me, SIGUSR1);
        sleep_ms(50);
        char drain[65536];
        long got = 0;
        while (got < filled) {
            ssize_t k = read(pp[0], drain, sizeof drain);
            if (k <= 0) break;
            got += k;
        }
        _exit(0);
    }
    n = write(pp[1], "after", 5);
    printf("write to a full pipe with SA_RESTART: %zd, handler ran %d\n", n, hits);
    waitpid(c, NULL, 0);
    read(pp[0], buf, sizeof buf);

    // Always EINTR, even with SA_RESTART.
    hits = 0;
    c = poke(150, -1);
    struct timespec req = {2, 0}, rem = {0, 0};
    int rr = nanosleep(&req, &rem);
    printf("nanosleep: %s, remaining between 1s and 2s: %s\n", rr < 0 ? errname(errno) : "completed",
           rem.tv_sec == 1 || (rem.tv_sec == 0 && rem.tv_nsec > 900000000) ? "yes" : "no");
    waitpid(c, NULL, 0);
    c = poke(150, -1);
    fd_set rs;
    FD_ZERO(&rs);
    FD_SET(pp[0], &rs);
    struct timeval tv = {2, 0};
    rr = select(pp[0] + 1, &rs, NULL, NULL, &tv);
    printf("select: %s\n", rr < 0 ? errname(errno) : "returned");
    waitpid(c, NULL, 0);
    c = poke(150, -1);
    struct pollfd pf = {pp[0], POLLIN, 0};
    rr = poll(&pf, 1, 2000);
    printf("poll: %s\n", rr < 0 ? errname(errno) : "returned");
    waitpid(c, NULL, 0);
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN};
    epoll_ctl(ep, EPOLL_CTL_ADD, pp[0], &ev);
    c = poke(150, -1);
    rr = epoll_wait(ep, &ev, 1, 2000);
    printf("epoll_wait: %s\n", rr < 0 ? errname(errno) : "returned");
    waitpid(c, NULL, 0);
    c = poke(150, -1);
    rr = pause();
    printf("pause: %s\n", rr < 0 ? errname(errno) : "returned");
    waitpid(c, NULL, 0);
    sigset_t none;
    sigemptyset(&none);
    c = poke(150, -1);
    rr = sigsuspend(&none);
    printf("sigsuspend: %s, handler ran %d times in total\n", rr < 0 ? errname(errno) : "returned", hits);
    waitpid(c, NULL, 0);
    done();
}
