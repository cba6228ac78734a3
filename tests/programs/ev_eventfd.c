// eventfd: counter and semaphore modes, blocking reads woken by another thread, overflow,
// bad sizes, poll/select readiness.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/select.h>
#include <time.h>
#include <unistd.h>

static void report(const char *what, long r) {
    int e = errno;
    printf("%s: %ld %s\n", what, r, r < 0 ? strerror(e) : "ok");
}

static int efd;
static void *poster(void *a) {
    (void)a;
    struct timespec ts = {0, 20000000};
    nanosleep(&ts, NULL);
    uint64_t v = 5;
    write(efd, &v, 8);
    return NULL;
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    efd = eventfd(3, 0);
    uint64_t v = 0;
    report("read", read(efd, &v, 8));
    printf("value: %llu\n", (unsigned long long)v);
    pthread_t t;
    pthread_create(&t, NULL, poster, NULL);
    report("blocking read", read(efd, &v, 8));
    printf("value: %llu\n", (unsigned long long)v);
    pthread_join(t, NULL);

    int nb = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    printf("flags nonblock: %s cloexec: %d\n", (fcntl(nb, F_GETFL) & O_NONBLOCK) ? "yes" : "no", fcntl(nb, F_GETFD));
    report("empty read", read(nb, &v, 8));
    report("short read", read(nb, &v, 4));
    v = UINT64_MAX;
    report("write max", write(nb, &v, 8));
    v = UINT64_MAX - 1;
    report("write max-1", write(nb, &v, 8));
    v = 1;
    report("overflow write", write(nb, &v, 8));
    struct pollfd pf = {.fd = nb, .events = POLLIN | POLLOUT};
    poll(&pf, 1, 0);
    printf("full: revents=%#x\n", pf.revents);
    read(nb, &v, 8);
    pf.revents = 0;
    poll(&pf, 1, 0);
    printf("drained: revents=%#x\n", pf.revents);
    report("short write", write(nb, &v, 4));

    int sem = eventfd(2, EFD_SEMAPHORE | EFD_NONBLOCK);
    for (int i = 0; i < 3; i++) {
        v = 0;
        long r = read(sem, &v, 8);
        printf("sem read %d: %ld value %llu\n", i, r, (unsigned long long)v);
    }
    fd_set rs;
    FD_ZERO(&rs);
    FD_SET(sem, &rs);
    struct timeval tv = {0, 0};
    printf("select empty: %d\n", select(sem + 1, &rs, NULL, NULL, &tv));
    v = 1;
    write(sem, &v, 8);
    FD_SET(sem, &rs);
    printf("select ready: %d\n", select(sem + 1, &rs, NULL, NULL, &tv));
    report("eventfd2 bad flags", eventfd(0, 0x4000));
    printf("done: ok\n");
    return 0;
}
