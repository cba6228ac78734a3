/* AF_UNIX datagram and seqpacket sockets: path/abstract names, sendto/recvfrom with sender
 * addresses, truncation (MSG_TRUNC), connect and its rules (EPERM, ECONNREFUSED), queue
 * limits, seqpacket boundaries and EOF, shutdown. Ends with "done: ok". */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static int failures;

static void check(int ok, const char *what) {
    printf("%s: %s\n", what, ok ? "ok" : "FAIL");
    if (!ok) {
        failures++;
        fprintf(stderr, "FAIL %s (errno %d %s)\n", what, errno, strerror(errno));
    }
}

static socklen_t path_addr(struct sockaddr_un *a, const char *path) {
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    strcpy(a->sun_path, path);
    return offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1;
}

static socklen_t abstract_addr(struct sockaddr_un *a, const char *name) {
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    memcpy(a->sun_path + 1, name, strlen(name));
    return offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name);
}

static void test_dgram(void) {
    unlink("/tmp/net_dgram_srv");
    unlink("/tmp/net_dgram_cli");
    int s = socket(AF_UNIX, SOCK_DGRAM, 0);
    int c = socket(AF_UNIX, SOCK_DGRAM, 0);
    struct sockaddr_un sa, ca;
    socklen_t sal = path_addr(&sa, "/tmp/net_dgram_srv");
    socklen_t cal = path_addr(&ca, "/tmp/net_dgram_cli");
    check(bind(s, (struct sockaddr *)&sa, sal) == 0, "dgram bind server");
    errno = 0;
    check(send(c, "x", 1, 0) == -1 && errno == ENOTCONN, "unconnected send ENOTCONN");
    /* unnamed sender: recvfrom reports no address */
    check(sendto(c, "anon", 4, 0, (struct sockaddr *)&sa, sal) == 4, "sendto from unnamed");
    struct sockaddr_un from;
    socklen_t fl = sizeof from;
    char buf[64] = {0};
    check(recvfrom(s, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl) == 4 && fl == 0, "recvfrom unnamed: len 0");
    check(bind(c, (struct sockaddr *)&ca, cal) == 0, "dgram bind client");
    check(sendto(c, "named", 5, 0, (struct sockaddr *)&sa, sal) == 5, "sendto from named");
    fl = sizeof from;
    memset(buf, 0, sizeof buf);
    check(recvfrom(s, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl) == 5 && fl == cal &&
              strcmp(from.sun_path, "/tmp/net_dgram_cli") == 0,
          "recvfrom reports sender path");
    /* message boundaries and truncation */
    sendto(c, "first", 5, 0, (struct sockaddr *)&sa, sal);
    sendto(c, "second-longer", 13, 0, (struct sockaddr *)&sa, sal);
    int n = 0;
    check(ioctl(s, FIONREAD, &n) == 0 && n == 5, "FIONREAD is next datagram size");
    check(recv(s, buf, 3, 0) == 3 && memcmp(buf, "fir", 3) == 0, "truncated read drops the rest");
    struct iovec iov = {buf, 6};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
    ssize_t r = recvmsg(s, &mh, MSG_TRUNC);
    check(r == 13 && (mh.msg_flags & MSG_TRUNC) && memcmp(buf, "second", 6) == 0, "MSG_TRUNC returns real length");
    /* reply path: server sends back to the client's name */
    check(sendto(s, "reply", 5, 0, (struct sockaddr *)&from, fl) == 5, "reply to sender name");
    check(recv(c, buf, sizeof buf, 0) == 5, "client got reply");
    /* connect, then plain send */
    check(connect(c, (struct sockaddr *)&sa, sal) == 0, "dgram connect");
    check(send(c, "via-connect", 11, 0) == 11 && recv(s, buf, sizeof buf, 0) == 11, "send on connected dgram");
    struct sockaddr_un pa;
    socklen_t pl = sizeof pa;
    check(getpeername(c, (struct sockaddr *)&pa, &pl) == 0 && strcmp(pa.sun_path, "/tmp/net_dgram_srv") == 0,
          "dgram getpeername");
    /* connecting to a socket connected elsewhere is refused */
    int other = socket(AF_UNIX, SOCK_DGRAM, 0);
    int s2 = socket(AF_UNIX, SOCK_DGRAM, 0);
    int s3 = socket(AF_UNIX, SOCK_DGRAM, 0);
    struct sockaddr_un s2a, s3a;
    socklen_t s2l = abstract_addr(&s2a, "net-dgram-s2");
    socklen_t s3l = abstract_addr(&s3a, "net-dgram-s3");
    bind(s2, (struct sockaddr *)&s2a, s2l);
    bind(s3, (struct sockaddr *)&s3a, s3l);
    errno = 0;
    check(connect(s2, (struct sockaddr *)&ca, cal) == -1 && errno == EPERM, "connect to a socket connected elsewhere EPERM");
    /* a socket connected to s3 refuses datagrams from others */
    check(connect(s2, (struct sockaddr *)&s3a, s3l) == 0, "connect s2 to s3");
    errno = 0;
    check(sendto(other, "x", 1, 0, (struct sockaddr *)&s2a, s2l) == -1 && errno == EPERM,
          "send to socket connected elsewhere EPERM");
    check(sendto(s3, "y", 1, 0, (struct sockaddr *)&s2a, s2l) == 1, "its peer may send");
    close(other);
    close(s2);
    close(s3);
    /* queue limit: nonblocking sends eventually EAGAIN */
    int sent = 0;
    fcntl(c, F_SETFL, O_NONBLOCK);
    for (int i = 0; i < 1000; i++) {
        if (send(c, "q", 1, 0) != 1)
            break;
        sent++;
    }
    check(sent > 0 && sent < 1000 && errno == EAGAIN, "dgram queue fills: EAGAIN");
    struct pollfd pf = {c, POLLOUT, 0};
    check(poll(&pf, 1, 0) == 0, "full peer queue: not writable");
    recv(s, buf, sizeof buf, 0);
    check(poll(&pf, 1, 0) == 1 && (pf.revents & POLLOUT), "writable again after a read");
    /* peer closes: ECONNREFUSED once, then ENOTCONN */
    close(s);
    errno = 0;
    check(send(c, "x", 1, 0) == -1 && errno == ECONNREFUSED, "send to closed peer ECONNREFUSED");
    errno = 0;
    check(send(c, "x", 1, 0) == -1 && errno == ENOTCONN, "then ENOTCONN");
    close(c);
    /* connecting a dgram socket to a stream socket: EPROTOTYPE for paths; abstract names
     * are looked up per type, so the name is simply not found */
    int st = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sta;
    socklen_t stl = abstract_addr(&sta, "net-dgram-stream");
    bind(st, (struct sockaddr *)&sta, stl);
    listen(st, 1);
    int d = socket(AF_UNIX, SOCK_DGRAM, 0);
    errno = 0;
    check(connect(d, (struct sockaddr *)&sta, stl) == -1 && errno == ECONNREFUSED, "abstract type mismatch ECONNREFUSED");
    check(bind(d, (struct sockaddr *)&sta, stl) == 0, "same abstract name, other type");
    close(d);
    close(st);
    unlink("/tmp/net_dgram_st");
    st = socket(AF_UNIX, SOCK_STREAM, 0);
    socklen_t pl2 = path_addr(&sta, "/tmp/net_dgram_st");
    bind(st, (struct sockaddr *)&sta, pl2);
    listen(st, 1);
    d = socket(AF_UNIX, SOCK_DGRAM, 0);
    errno = 0;
    check(connect(d, (struct sockaddr *)&sta, pl2) == -1 && errno == EPROTOTYPE, "path type mismatch EPROTOTYPE");
    close(d);
    close(st);
    unlink("/tmp/net_dgram_st");
    unlink("/tmp/net_dgram_srv");
    unlink("/tmp/net_dgram_cli");
}

static void test_dgram_blocking_across_fork(void) {
    int sv[2];
    check(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) == 0, "dgram socketpair");
    pid_t pid = fork();
    if (pid == 0) {
        close(sv[0]);
        for (int i = 0; i < 100; i++) {
            char m[32];
            int len = snprintf(m, sizeof m, "msg %d", i);
            if (send(sv[1], m, len, 0) != len)
                _exit(1);
        }
        _exit(0);
    }
    close(sv[1]);
    int good = 1;
    for (int i = 0; i < 100; i++) {
        char m[32], want[32];
        ssize_t n = recv(sv[0], m, sizeof m, 0);
        int len = snprintf(want, sizeof want, "msg %d", i);
        if (n != len || memcmp(m, want, len) != 0)
            good = 0;
    }
    check(good, "100 datagrams in order through a blocking writer");
    int status;
    waitpid(pid, &status, 0);
    check(WIFEXITED(status) && WEXITSTATUS(status) == 0, "dgram writer exit 0");
    close(sv[0]);
}

static void test_seqpacket(void) {
    int l = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    struct sockaddr_un a;
    socklen_t al = abstract_addr(&a, "net-seqpacket");
    check(bind(l, (struct sockaddr *)&a, al) == 0 && listen(l, 2) == 0, "seqpacket listen");
    pid_t pid = fork();
    if (pid == 0) {
        int c = accept(l, NULL, NULL);
        char buf[100];
        ssize_t n;
        /* echo each record back with its length as the first byte */
        while ((n = recv(c, buf + 1, sizeof buf - 1, 0)) > 0) {
            buf[0] = (char)n;
            send(c, buf, n + 1, 0);
        }
        _exit(n == 0 ? 0 : 1);
    }
    int c = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    check(connect(c, (struct sockaddr *)&a, al) == 0, "seqpacket connect");
    const char *recs[] = {"a", "bb", "ccc", "a much longer record"};
    for (int i = 0; i < 4; i++)
        send(c, recs[i], strlen(recs[i]), 0);
    int good = 1;
    for (int i = 0; i < 4; i++) {
        char buf[100];
        ssize_t n = recv(c, buf, sizeof buf, 0);
        if (n != (ssize_t)strlen(recs[i]) + 1 || buf[0] != (char)strlen(recs[i]) ||
            memcmp(buf + 1, recs[i], n - 1) != 0)
            good = 0;
    }
    check(good, "seqpacket records keep their boundaries");
    send(c, "truncate me", 11, 0);
    char small[4];
    struct iovec iov = {small, sizeof small};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
    check(recvmsg(c, &mh, 0) == 4 && (mh.msg_flags & MSG_TRUNC), "seqpacket truncation sets MSG_TRUNC");
    shutdown(c, SHUT_WR);
    int status;
    waitpid(pid, &status, 0);
    check(WIFEXITED(status) && WEXITSTATUS(status) == 0, "seqpacket server saw EOF");
    char buf[8];
    check(recv(c, buf, sizeof buf, 0) == 0, "seqpacket EOF after server exit");
    int type = 0;
    socklen_t tl = sizeof type;
    check(getsockopt(c, SOL_SOCKET, SO_TYPE, &type, &tl) == 0 && type == SOCK_SEQPACKET, "SO_TYPE seqpacket");
    close(c);
    close(l);
    int u = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    errno = 0;
    check(send(u, "x", 1, 0) == -1 && errno == ENOTCONN, "unconnected seqpacket send ENOTCONN");
    close(u);
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    test_dgram();
    test_dgram_blocking_across_fork();
    test_seqpacket();
    printf("done: %s\n", failures ? "FAIL" : "ok");
    return failures != 0;
}
