/* TCP over loopback: an echo server and clients in forked processes, names, socket options,
 * a 4 MiB transfer, shutdown and EOF, EPIPE/ECONNRESET, IPv6 loopback when the host has it.
 * Ports are ephemeral and never printed. Ends with "done: ok". */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
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

static int listener(struct sockaddr_in *a) {
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    memset(a, 0, sizeof *a);
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(l, (struct sockaddr *)a, sizeof *a) != 0 || listen(l, 16) != 0)
        return -1;
    socklen_t al = sizeof *a;
    getsockname(l, (struct sockaddr *)a, &al);
    return l;
}

static int read_full(int fd, char *buf, size_t n) {
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r <= 0)
            return got;
        got += r;
    }
    return got;
}

static void echo_server(int l, int conns) {
    for (int i = 0; i < conns; i++) {
        struct sockaddr_in peer;
        socklen_t pl = sizeof peer;
        int c = accept4(l, (struct sockaddr *)&peer, &pl, SOCK_CLOEXEC);
        if (c < 0 || pl != sizeof peer || peer.sin_addr.s_addr != htonl(INADDR_LOOPBACK))
            _exit(10);
        static char buf[65536];
        ssize_t n;
        while ((n = read(c, buf, sizeof buf)) > 0) {
            ssize_t off = 0;
            while (off < n) {
                ssize_t w = write(c, buf + off, n - off);
                if (w <= 0)
                    _exit(11);
                off += w;
            }
        }
        close(c);
    }
    _exit(0);
}

static void test_echo(void) {
    struct sockaddr_in a;
    int l = listener(&a);
    check(l >= 0, "tcp listen on 127.0.0.1");
    int acc = 0;
    socklen_t accl = sizeof acc;
    check(getsockopt(l, SOL_SOCKET, SO_ACCEPTCONN, &acc, &accl) == 0 && acc == 1, "SO_ACCEPTCONN");
    pid_t pid = fork();
    if (pid == 0)
        echo_server(l, 2);
    close(l);
    int c = socket(AF_INET, SOCK_STREAM, 0);
    check(connect(c, (struct sockaddr *)&a, sizeof a) == 0, "tcp connect");
    struct sockaddr_in me, peer;
    socklen_t ml = sizeof me, pl = sizeof peer;
    check(getsockname(c, (struct sockaddr *)&me, &ml) == 0 && ml == sizeof me && me.sin_family == AF_INET &&
              me.sin_addr.s_addr == htonl(INADDR_LOOPBACK) && me.sin_port != 0,
          "getsockname");
    check(getpeername(c, (struct sockaddr *)&peer, &pl) == 0 && peer.sin_port == a.sin_port, "getpeername");
    int one = 1, v = 0;
    socklen_t vl = sizeof v;
    check(setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0 &&
              getsockopt(c, IPPROTO_TCP, TCP_NODELAY, &v, &vl) == 0 && v == 1,
          "TCP_NODELAY");
    vl = sizeof v;
    check(setsockopt(c, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one) == 0 &&
              getsockopt(c, SOL_SOCKET, SO_KEEPALIVE, &v, &vl) == 0 && v == 1,
          "SO_KEEPALIVE");
    int idle = 30;
    vl = sizeof v;
    check(setsockopt(c, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle) == 0 &&
              getsockopt(c, IPPROTO_TCP, TCP_KEEPIDLE, &v, &vl) == 0 && v == 30,
          "TCP_KEEPIDLE");
    vl = sizeof v;
    check(getsockopt(c, SOL_SOCKET, SO_TYPE, &v, &vl) == 0 && v == SOCK_STREAM, "SO_TYPE");
    vl = sizeof v;
    check(getsockopt(c, SOL_SOCKET, SO_ERROR, &v, &vl) == 0 && v == 0, "SO_ERROR 0");
    struct linger lg = {1, 5}, lg2;
    socklen_t lgl = sizeof lg2;
    check(setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof lg) == 0 &&
              getsockopt(c, SOL_SOCKET, SO_LINGER, &lg2, &lgl) == 0 && lg2.l_onoff == 1 && lg2.l_linger == 5,
          "SO_LINGER");
    struct stat st;
    check(fstat(c, &st) == 0 && S_ISSOCK(st.st_mode), "fstat S_IFSOCK");
    check(write(c, "hello tcp", 9) == 9, "write");
    char buf[32] = {0};
    check(read_full(c, buf, 9) == 9 && strcmp(buf, "hello tcp") == 0, "echo");
    /* sendmsg/recvmsg with two iovecs each */
    struct iovec iov[2] = {{"scatter ", 8}, {"gather", 6}};
    struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2};
    check(sendmsg(c, &mh, 0) == 14, "sendmsg 2 iovecs");
    char b1[5] = {0}, b2[16] = {0};
    struct iovec riov[2] = {{b1, 4}, {b2, 10}};
    struct msghdr rmh = {.msg_iov = riov, .msg_iovlen = 2, .msg_flags = 0};
    size_t got = 0;
    while (got < 14) {
        ssize_t r = recvmsg(c, &rmh, MSG_WAITALL);
        if (r <= 0)
            break;
        got += r;
        /* advance the iovecs */
        size_t left = r;
        for (int i = 0; i < 2 && left; i++) {
            size_t m = left < riov[i].iov_len ? left : riov[i].iov_len;
            riov[i].iov_base = (char *)riov[i].iov_base + m;
            riov[i].iov_len -= m;
            left -= m;
        }
    }
    check(got == 14 && strcmp(b1, "scat") == 0 && strcmp(b2, "ter gather") == 0, "recvmsg 2 iovecs");
    /* 4 MiB both ways with a writer child */
    pid_t w = fork();
    if (w == 0) {
        static char chunk[100000];
        for (size_t i = 0; i < sizeof chunk; i++)
            chunk[i] = (char)(i % 251);
        size_t total = 4 << 20, sent = 0;
        while (sent < total) {
            size_t n = total - sent < sizeof chunk ? total - sent : sizeof chunk;
            ssize_t r = send(c, chunk, n, 0);
            if (r <= 0)
                _exit(1);
            /* A blocking send on a stream socket queues everything before it returns. */
            if ((size_t)r != n)
                _exit(2);
            sent += r;
        }
        shutdown(c, SHUT_WR);
        _exit(0);
    }
    unsigned long sum = 0, total = 0;
    static char big[70000];
    ssize_t r;
    while ((r = read(c, big, sizeof big)) > 0) {
        for (ssize_t i = 0; i < r; i++)
            sum = sum * 33 + (unsigned char)big[i];
        total += r;
    }
    printf("tcp 4 MiB echo: %lu bytes, checksum %lx\n", total, sum);
    int status;
    waitpid(w, &status, 0);
    check(WIFEXITED(status) && WEXITSTATUS(status) == 0, "writer exit 0");
    close(c);
    /* second connection: the server closes after our shutdown; then EPIPE */
    c = socket(AF_INET, SOCK_STREAM, 0);
    connect(c, (struct sockaddr *)&a, sizeof a);
    write(c, "bye", 3);
    shutdown(c, SHUT_WR);
    check(read_full(c, buf, 3) == 3 && read(c, buf, 1) == 0, "echo then EOF after shutdown");
    waitpid(pid, &status, 0);
    check(WIFEXITED(status) && WEXITSTATUS(status) == 0, "server exit 0");
    signal(SIGPIPE, SIG_IGN);
    errno = 0;
    check(write(c, "x", 1) == -1 && errno == EPIPE, "write after own SHUT_WR: EPIPE");
    close(c);
}

static void test_refused_and_reset(void) {
    struct sockaddr_in a;
    int l = listener(&a);
    close(l); /* nothing listens on that port now */
    int c = socket(AF_INET, SOCK_STREAM, 0);
    errno = 0;
    check(connect(c, (struct sockaddr *)&a, sizeof a) == -1 && errno == ECONNREFUSED, "connect ECONNREFUSED");
    close(c);
    /* RST: the server closes with SO_LINGER 0 */
    l = listener(&a);
    c = socket(AF_INET, SOCK_STREAM, 0);
    connect(c, (struct sockaddr *)&a, sizeof a);
    int s = accept(l, NULL, NULL);
    struct linger lg = {1, 0};
    setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(s);
    char buf[4];
    struct pollfd pf = {c, POLLIN, 0};
    poll(&pf, 1, 2000);
    errno = 0;
    check(read(c, buf, sizeof buf) == -1 && errno == ECONNRESET, "read after RST: ECONNRESET");
    close(c);
    close(l);
    /* bad arguments */
    c = socket(AF_INET, SOCK_STREAM, 0);
    errno = 0;
    check(connect(c, (struct sockaddr *)&a, 4) == -1 && errno == EINVAL, "short sockaddr EINVAL");
    int x = 1;
    errno = 0;
    check(setsockopt(c, SOL_SOCKET, 12345, &x, sizeof x) == -1 && errno == ENOPROTOOPT, "unknown option ENOPROTOOPT");
    close(c);
    /* root may open raw sockets natively; the sandbox refuses them with EPERM */
    errno = 0;
    int raw = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
    check(raw >= 0 || errno == EPERM, "raw socket: allowed or EPERM");
    if (raw >= 0)
        close(raw);
    errno = 0;
    check(socket(AF_INET, SOCK_STREAM, IPPROTO_UDP) == -1 && errno == EPROTONOSUPPORT, "tcp type with udp proto");
    int sv[2];
    errno = 0;
    check(socketpair(AF_INET, SOCK_STREAM, 0, sv) == -1 && errno == EOPNOTSUPP, "inet socketpair EOPNOTSUPP");
}

static void test_ipv6(void) {
    int l = socket(AF_INET6, SOCK_STREAM, 0);
    struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof a) != 0) {
        printf("ipv6 loopback: unavailable\n");
        if (l >= 0)
            close(l);
        return;
    }
    listen(l, 1);
    socklen_t al = sizeof a;
    getsockname(l, (struct sockaddr *)&a, &al);
    int one = 1, v = 0;
    socklen_t vl = sizeof v;
    int c = socket(AF_INET6, SOCK_STREAM, 0);
    check(setsockopt(c, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) == 0 &&
              getsockopt(c, IPPROTO_IPV6, IPV6_V6ONLY, &v, &vl) == 0 && v == 1,
          "IPV6_V6ONLY");
    check(connect(c, (struct sockaddr *)&a, sizeof a) == 0, "ipv6 connect ::1");
    int s = accept(l, NULL, NULL);
    write(c, "six", 3);
    char buf[4] = {0};
    check(read_full(s, buf, 3) == 3 && strcmp(buf, "six") == 0, "ipv6 data");
    close(s);
    close(c);
    close(l);
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    test_echo();
    test_refused_and_reset();
    test_ipv6();
    printf("done: %s\n", failures ? "FAIL" : "ok");
    return failures != 0;
}
