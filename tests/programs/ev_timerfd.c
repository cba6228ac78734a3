// timerfd: one-shot and periodic, absolute times, gettime, blocking reads, epoll, errors.
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

static void report(const char *what, long r) {
    int e = errno;
    printf("%s: %ld %s\n", what, r, r < 0 ? strerror(e) : "ok");
}

static long ms_since(struct timespec *t0) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    int tfd = timerfd_create(CLOCK_MONOTONIC, 0);
    struct itimerspec its = {{0, 0}, {0, 30000000}}, cur, old;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    report("settime one-shot", timerfd_settime(tfd, 0, &its, &old));
    printf("old disarmed: %s\n", old.it_value.tv_sec == 0 && old.it_value.tv_nsec == 0 ? "yes" : "no");
    timerfd_gettime(tfd, &cur);
    printf("remaining in (0,30ms]: %s\n", cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec > 0 && cur.it_value.tv_nsec <= 30000000 ? "yes" : "no");
    uint64_t n = 0;
    report("blocking read", read(tfd, &n, 8));
    printf("expirations: %llu, waited >=30ms: %s\n", (unsigned long long)n, ms_since(&t0) >= 29 ? "yes" : "no");
    timerfd_gettime(tfd, &cur);
    printf("disarmed after: %s\n", cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec == 0 ? "yes" : "no");

    // Periodic, counted while nobody reads.
    int pfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    report("nonblocking read unarmed", read(pfd, &n, 8));
    struct itimerspec per = {{0, 10000000}, {0, 10000000}};
    timerfd_settime(pfd, 0, &per, NULL);
    struct timespec sl = {0, 55000000};
    nanosleep(&sl, NULL);
    read(pfd, &n, 8);
    printf("periodic after 55ms, at least 4: %s\n", n >= 4 ? "yes" : "no");
    timerfd_gettime(pfd, &cur);
    printf("interval: %ld.%09ld\n", (long)cur.it_interval.tv_sec, cur.it_interval.tv_nsec);

    // Via epoll: five ticks, each wakes the loop.
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 1};
    epoll_ctl(ep, EPOLL_CTL_ADD, pfd, &ev);
    int ticks = 0;
    uint64_t total = 0;
    while (ticks < 5) {
        struct epoll_event out;
        int r = epoll_wait(ep, &out, 1, 2000);
        if (r != 1) {
            printf("epoll_wait: %d\n", r);
            break;
        }
        if (read(pfd, &n, 8) == 8) {
            ticks++;
            total += n;
        }
    }
    printf("epoll ticks: %d total>=5: %s\n", ticks, total >= 5 ? "yes" : "no");

    // poll on it.
    struct pollfd pf = {.fd = pfd, .events = POLLIN};
    printf("poll: %d\n", poll(&pf, 1, 1000));
    memset(&per, 0, sizeof per);
    timerfd_settime(pfd, 0, &per, &old);
    printf("old interval: %ld.%09ld\n", (long)old.it_interval.tv_sec, old.it_interval.tv_nsec);
    report("read after disarm", read(pfd, &n, 8));

    // Absolute times on CLOCK_REALTIME: one in the past fires immediately.
    int rfd = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    struct itimerspec abs = {{0, 0}, {now.tv_sec - 10, 0}};
    timerfd_settime(rfd, TFD_TIMER_ABSTIME, &abs, NULL);
    report("past absolute read", read(rfd, &n, 8));
    printf("expirations: %llu\n", (unsigned long long)n);
    abs.it_value.tv_sec = now.tv_sec + 1;
    abs.it_value.tv_nsec = now.tv_nsec;
    timerfd_settime(rfd, TFD_TIMER_ABSTIME, &abs, NULL);
    timerfd_gettime(rfd, &cur);
    printf("absolute remaining ~1s: %s\n", cur.it_value.tv_sec == 0 || (cur.it_value.tv_sec == 1 && cur.it_value.tv_nsec == 0) ? "yes" : "no");
    clock_gettime(CLOCK_BOOTTIME, &now);
    int bfd = timerfd_create(CLOCK_BOOTTIME, 0);
    struct itimerspec b = {{0, 0}, {now.tv_sec, now.tv_nsec + 20000000 >= 1000000000 ? now.tv_nsec - 980000000 : now.tv_nsec + 20000000}};
    if (now.tv_nsec + 20000000 >= 1000000000) b.it_value.tv_sec++;
    timerfd_settime(bfd, TFD_TIMER_ABSTIME, &b, NULL);
    report("boottime absolute read", read(bfd, &n, 8));

    report("bad clock", timerfd_create(12345, 0));
    report("bad flags", timerfd_create(CLOCK_MONOTONIC, 0x10));
    report("settime bad flags", timerfd_settime(tfd, 0x100, &its, NULL));
    struct itimerspec badv = {{0, 0}, {0, 1000000000}};
    report("settime bad nsec", timerfd_settime(tfd, 0, &badv, NULL));
    report("settime on non-timerfd", timerfd_settime(0, 0, &its, NULL));
    report("short read", read(tfd, &n, 4));
    report("cancel-on-set without abstime (ignored)", timerfd_settime(rfd, TFD_TIMER_CANCEL_ON_SET, &its, NULL));
    printf("done: ok\n");
    return 0;
}
