/* Nonblocking sockets and readiness: nonblocking connect + poll(POLLOUT) + SO_ERROR,
 * accept readiness through poll/select/epoll, SO_RCVTIMEO/SO_SNDTIMEO, EAGAIN on full
 * buffers, poll on unix and inet sockets together. Ends with "done: ok". */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int failures;

static void check(int ok, const char *what) {
    printf("%s: %s\n", what, ok ? "ok" : "FAIL");
    if (!ok) {
        failures++;
        fprintf(stderr, "FAIL %s (errno %d %s)\n", what, errno, strerror(errno));
    }
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int listener(struct sockaddr_in *a) {
    int l = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    memset(a, 0, sizeof *a);
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(l, (struct sockaddr *)a, sizeof *a);
    listen(l, 8);
    socklen_t al = sizeof *a;
    getsockname(l, (struct sockaddr *)a, &al);
    return l;
}

static void test_nonblocking_connect(void) {
    struct sockaddr_in a;
    int l = listener(&a);
    errno = 0;
    check(accept(l, NULL, NULL) == -1 && errno == EAGAIN, "nonblocking accept EAGAIN");
    int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int r = connect(c, (struct sockaddr *)&a, sizeof a);
    check(r == 0 || errno == EINPROGRESS, "nonblocking connect: 0 or EINPROGRESS");
    struct pollfd pf = {c, POLLOUT, 0};
    check(poll(&pf, 1, 5000) == 1 && (pf.revents & POLLOUT), "poll POLLOUT when connected");
    int err = -1;
    socklen_t el = sizeof err;
    check(getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &el) == 0 && err == 0, "SO_ERROR 0");
    errno = 0;
    r = connect(c, (struct sockaddr *)&a, sizeof a);
    /* Linux completes the connection state on this second call (0), EISCONN after. */
    check(r == 0 || (r == -1 && errno == EISCONN), "connect again: 0 or EISCONN");
    errno = 0;
    r = connect(c, (struct sockaddr *)&a, sizeof a);
    check(r == -1 && errno == EISCONN, "connect a third time: EISCONN");
    /* the listener is readable: poll, select and epoll agree */
    struct pollfd lp = {l, POLLIN, 0};
    check(poll(&lp, 1, 5000) == 1 && (lp.revents & POLLIN), "listener poll POLLIN");
    fd_set rs;
    FD_ZERO(&rs);
    FD_SET(l, &rs);
    struct timeval tv = {5, 0};
    check(select(l + 1, &rs, NULL, NULL, &tv) == 1 && FD_ISSET(l, &rs), "listener select readable");
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = l}, out[4];
    if (ep >= 0 && epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev) == 0)
        check(epoll_wait(ep, out, 4, 5000) == 1 && out[0].data.fd == l, "listener epoll EPOLLIN");
    else
        check(0, "listener epoll EPOLLIN");
    int s = accept4(l, NULL, NULL, SOCK_NONBLOCK);
    check(s >= 0, "accept4 after readiness");
    check((fcntl(s, F_GETFL) & O_NONBLOCK) != 0, "accept4 SOCK_NONBLOCK");
    /* data readiness through epoll on the connection */
    ev.events = EPOLLIN;
    ev.data.fd = s;
    epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev);
    epoll_ctl(ep, EPOLL_CTL_DEL, l, NULL);
    check(epoll_wait(ep, out, 4, 0) == 0, "no data: epoll empty");
    write(c, "data", 4);
    check(epoll_wait(ep, out, 4, 5000) == 1 && out[0].data.fd == s, "data: epoll EPOLLIN");
    char buf[8];
    check(read(s, buf, sizeof buf) == 4, "read the data");
    errno = 0;
    check(read(s, buf, sizeof buf) == -1 && errno == EAGAIN, "nonblocking read EAGAIN");
    /* fill the send side until EAGAIN, then drain and see POLLOUT come back */
    static char chunk[65536];
    long total = 0;
    for (int i = 0; i < 10000; i++) {
        ssize_t w = write(c, chunk, sizeof chunk);
        if (w < 0)
            break;
        total += w;
    }
    check(errno == EAGAIN && total > 0, "full socket: EAGAIN");
    pf.fd = c;
    pf.events = POLLOUT;
    check(poll(&pf, 1, 0) == 0, "full socket: not writable");
    long drained = 0;
    double t0 = now();
    while (drained < total && now() - t0 < 10) {
        ssize_t n = read(s, chunk, sizeof chunk);
        if (n > 0)
            drained += n;
        else if (n < 0 && errno == EAGAIN) {
            struct pollfd sp = {s, POLLIN, 0};
            poll(&sp, 1, 1000);
        } else
            break;
    }
    check(drained == total, "drained everything written");
    check(poll(&pf, 1, 5000) == 1 && (pf.revents & POLLOUT), "writable again");
    close(ep);
    close(s);
    close(c);
    close(l);
    /* refused: immediately or through SO_ERROR after POLLOUT/POLLERR */
    l = listener(&a);
    close(l);
    c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    r = connect(c, (struct sockaddr *)&a, sizeof a);
    int refused = r == -1 && errno == ECONNREFUSED;
    if (r == -1 && errno == EINPROGRESS) {
        pf.fd = c;
        pf.events = POLLOUT;
        poll(&pf, 1, 5000);
        el = sizeof err;
        getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &el);
        refused = err == ECONNREFUSED;
    }
    check(refused, "nonblocking connect to a closed port: ECONNREFUSED");
    close(c);
}

static void test_timeouts(void) {
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    /* 200 ms is a whole number of jiffies for HZ 100, 250 and 1000 (Linux rounds to them). */
    struct timeval tv = {0, 200000}, got;
    socklen_t gl = sizeof got;
    check(setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0 &&
              getsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &got, &gl) == 0 && got.tv_usec == 200000,
          "SO_RCVTIMEO set/get");
    char b;
    double t0 = now();
    errno = 0;
    ssize_t r = recv(sv[0], &b, 1, 0);
    double dt = now() - t0;
    check(r == -1 && errno == EAGAIN && dt > 0.1 && dt < 3, "unix recv times out with EAGAIN");
    /* an enormous timeout is no timeout (and must not overflow anything) */
    struct timeval huge = {0x7fffffffffffffffL, 999999};
    check(setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &huge, sizeof huge) == 0, "huge SO_RCVTIMEO accepted");
    pid_t w = fork();
    if (w == 0) {
        usleep(50000);
        write(sv[1], "z", 1);
        _exit(0);
    }
    check(recv(sv[0], &b, 1, 0) == 1 && b == 'z', "recv with huge timeout gets the data");
    waitpid(w, NULL, 0);
    /* inet too */
    struct sockaddr_in a;
    int u = socket(AF_INET, SOCK_DGRAM, 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(u, (struct sockaddr *)&a, sizeof a);
    setsockopt(u, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    t0 = now();
    errno = 0;
    r = recv(u, &b, 1, 0);
    dt = now() - t0;
    check(r == -1 && errno == EAGAIN && dt > 0.1 && dt < 3, "udp recv times out with EAGAIN");
    tv.tv_sec = 0;
    tv.tv_usec = 2000000;
    errno = 0;
    check(setsockopt(u, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == -1 && errno == EDOM, "bad timeval EDOM");
    close(u);
    /* SO_SNDTIMEO on a full unix socket */
    struct timeval st = {0, 100000};
    setsockopt(sv[1], SOL_SOCKET, SO_SNDTIMEO, &st, sizeof st);
    static char chunk[65536];
    fcntl(sv[1], F_SETFL, O_NONBLOCK);
    while (write(sv[1], chunk, sizeof chunk) > 0)
        ;
    fcntl(sv[1], F_SETFL, 0);
    t0 = now();
    errno = 0;
    r = write(sv[1], chunk, 1);
    dt = now() - t0;
    check(r == -1 && errno == EAGAIN && dt > 0.05 && dt < 3, "send times out with EAGAIN");
    close(sv[0]);
    close(sv[1]);
}

static void test_mixed_poll(void) {
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    struct sockaddr_in a;
    int u = socket(AF_INET, SOCK_DGRAM, 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(u, (struct sockaddr *)&a, sizeof a);
    socklen_t al = sizeof a;
    getsockname(u, (struct sockaddr *)&a, &al);
    pid_t pid = fork();
    if (pid == 0) {
        usleep(50000);
        int v = socket(AF_INET, SOCK_DGRAM, 0);
        sendto(v, "udp", 3, 0, (struct sockaddr *)&a, sizeof a);
        usleep(50000);
        write(sv[1], "unix", 4);
        _exit(0);
    }
    struct pollfd p[2] = {{sv[0], POLLIN, 0}, {u, POLLIN, 0}};
    int n = poll(p, 2, 5000);
    check(n == 1 && p[1].revents == POLLIN && p[0].revents == 0, "poll wakes for the udp socket");
    char buf[8];
    recv(u, buf, sizeof buf, 0);
    n = poll(p, 2, 5000);
    check(n == 1 && p[0].revents == POLLIN && p[1].revents == 0, "poll wakes for the unix socket");
    int status;
    waitpid(pid, &status, 0);
    close(u);
    close(sv[0]);
    close(sv[1]);
}

static void test_edge_triggered_unix(void) {
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv);
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.fd = sv[1]}, out[2];
    epoll_ctl(ep, EPOLL_CTL_ADD, sv[1], &ev);
    write(sv[0], "a", 1);
    check(epoll_wait(ep, out, 2, 1000) == 1, "EPOLLET: first write reported");
    check(epoll_wait(ep, out, 2, 0) == 0, "EPOLLET: not again without news");
    write(sv[0], "b", 1);
    check(epoll_wait(ep, out, 2, 1000) == 1, "EPOLLET: more data is a new edge");
    close(sv[0]);
    check(epoll_wait(ep, out, 2, 1000) == 1 && (out[0].events & EPOLLIN), "EPOLLET: peer close is an edge");
    close(ep);
    close(sv[1]);
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    test_nonblocking_connect();
    test_timeouts();
    test_mixed_poll();
    test_edge_triggered_unix();
    printf("done: %s\n", failures ? "FAIL" : "ok");
    return failures != 0;
}
