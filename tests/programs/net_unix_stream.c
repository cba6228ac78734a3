/* AF_UNIX stream sockets: socketpair, path and abstract names, listen/accept across fork,
 * shutdown and EOF, EPIPE/SIGPIPE, MSG_PEEK/MSG_DONTWAIT, SO_PEERCRED, fstat, /proc/self/fd,
 * FIONREAD, getsockname/getpeername. Prints deterministic lines; ends with "done: ok". */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
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

static int sigpipes;
static void on_pipe(int s) { (void)s; sigpipes++; }

static void test_pair(void) {
    int sv[2];
    check(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair");
    check(write(sv[0], "hello", 5) == 5, "pair write");
    char buf[64] = {0};
    int n = 0;
    check(ioctl(sv[1], FIONREAD, &n) == 0 && n == 5, "pair FIONREAD 5");
    check(recv(sv[1], buf, 3, MSG_PEEK) == 3 && memcmp(buf, "hel", 3) == 0, "pair peek");
    check(read(sv[1], buf, sizeof buf) == 5 && memcmp(buf, "hello", 5) == 0, "pair read after peek");
    errno = 0;
    check(recv(sv[1], buf, sizeof buf, MSG_DONTWAIT) == -1 && errno == EAGAIN, "pair dontwait EAGAIN");
    struct stat st;
    check(fstat(sv[0], &st) == 0 && S_ISSOCK(st.st_mode), "fstat S_IFSOCK");
    char p[64], l[64] = {0};
    snprintf(p, sizeof p, "/proc/self/fd/%d", sv[0]);
    ssize_t ll = readlink(p, l, sizeof l - 1);
    /* native comparison runs chroot without /proc: nothing to look at there */
    int no_proc = access("/proc/self", F_OK) != 0;
    check(no_proc || (ll > 0 && strncmp(l, "socket:[", 8) == 0), "/proc/self/fd socket:[ino]");
    int type = 0;
    socklen_t tl = sizeof type;
    check(getsockopt(sv[0], SOL_SOCKET, SO_TYPE, &type, &tl) == 0 && type == SOCK_STREAM, "SO_TYPE stream");
    int dom = 0;
    tl = sizeof dom;
    check(getsockopt(sv[0], SOL_SOCKET, SO_DOMAIN, &dom, &tl) == 0 && dom == AF_UNIX, "SO_DOMAIN unix");
    struct ucred uc;
    socklen_t ul = sizeof uc;
    check(getsockopt(sv[0], SOL_SOCKET, SO_PEERCRED, &uc, &ul) == 0 && uc.pid == getpid() &&
              uc.uid == geteuid() && uc.gid == getegid(),
          "socketpair SO_PEERCRED is self");
    struct sockaddr_un a;
    socklen_t al = sizeof a;
    check(getsockname(sv[0], (struct sockaddr *)&a, &al) == 0 && al == sizeof(sa_family_t), "unnamed getsockname");
    /* shutdown(SHUT_WR): the peer reads EOF, can still write back. */
    check(shutdown(sv[0], SHUT_WR) == 0, "shutdown wr");
    check(read(sv[1], buf, sizeof buf) == 0, "peer sees EOF");
    struct pollfd pf = {sv[1], POLLIN | POLLRDHUP, 0};
    check(poll(&pf, 1, 0) == 1 && (pf.revents & POLLRDHUP), "poll RDHUP after peer SHUT_WR");
    check(write(sv[1], "back", 4) == 4 && read(sv[0], buf, sizeof buf) == 4, "reverse direction still open");
    signal(SIGPIPE, on_pipe);
    errno = 0;
    check(write(sv[0], "x", 1) == -1 && errno == EPIPE && sigpipes == 1, "EPIPE + SIGPIPE after SHUT_WR");
    errno = 0;
    check(send(sv[0], "x", 1, MSG_NOSIGNAL) == -1 && errno == EPIPE && sigpipes == 1, "MSG_NOSIGNAL no signal");
    close(sv[0]);
    pf.fd = sv[1];
    pf.events = POLLIN | POLLOUT;
    check(poll(&pf, 1, 0) == 1 && (pf.revents & POLLHUP), "POLLHUP after close");
    errno = 0;
    check(write(sv[1], "x", 1) == -1 && errno == EPIPE && sigpipes == 2, "write to closed peer EPIPE");
    close(sv[1]);
    signal(SIGPIPE, SIG_DFL);
}

static void test_unread_reset(void) {
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    write(sv[1], "unread", 6);
    close(sv[0]);
    char buf[8];
    errno = 0;
    check(read(sv[1], buf, sizeof buf) == -1 && errno == ECONNRESET, "close with unread data: ECONNRESET");
    check(read(sv[1], buf, sizeof buf) == 0, "then EOF");
    close(sv[1]);
}

/* A server child accepts two connections and echoes in upper case until EOF. */
static void serve(int l, int conns) {
    for (int i = 0; i < conns; i++) {
        struct sockaddr_un peer;
        socklen_t pl = sizeof peer;
        int c = accept4(l, (struct sockaddr *)&peer, &pl, SOCK_CLOEXEC);
        if (c < 0)
            _exit(10);
        struct ucred uc;
        socklen_t ul = sizeof uc;
        if (getsockopt(c, SOL_SOCKET, SO_PEERCRED, &uc, &ul) != 0 || uc.pid != getppid())
            _exit(11);
        char buf[256];
        ssize_t n;
        while ((n = read(c, buf, sizeof buf)) > 0) {
            for (ssize_t j = 0; j < n; j++)
                if (buf[j] >= 'a' && buf[j] <= 'z')
                    buf[j] -= 32;
            if (write(c, buf, n) != n)
                _exit(12);
        }
        close(c);
    }
    _exit(0);
}

static void client_round(struct sockaddr_un *a, socklen_t al, const char *what) {
    int c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    char label[128];
    snprintf(label, sizeof label, "%s connect", what);
    check(connect(c, (struct sockaddr *)a, al) == 0, label);
    struct sockaddr_un pa;
    socklen_t pl = sizeof pa;
    snprintf(label, sizeof label, "%s getpeername", what);
    check(getpeername(c, (struct sockaddr *)&pa, &pl) == 0 && pl == al && memcmp(&pa, a, al) == 0, label);
    check(write(c, "round trip", 10) == 10, "client write");
    char buf[64] = {0};
    size_t got = 0;
    while (got < 10) {
        ssize_t n = read(c, buf + got, sizeof buf - got);
        if (n <= 0)
            break;
        got += n;
    }
    snprintf(label, sizeof label, "%s echo %.*s", what, (int)got, buf);
    check(got == 10, label);
    struct ucred uc;
    socklen_t ul = sizeof uc;
    /* the listener's credentials are those of whoever called listen(): this process */
    snprintf(label, sizeof label, "%s SO_PEERCRED is the listener", what);
    check(getsockopt(c, SOL_SOCKET, SO_PEERCRED, &uc, &ul) == 0 && uc.pid == getpid(), label);
    close(c);
}

static void test_path_listener(void) {
    unlink("/tmp/net_unix_stream.sock");
    int l = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un a;
    socklen_t al = path_addr(&a, "/tmp/net_unix_stream.sock");
    errno = 0;
    check(listen(l, 4) == -1 && errno == EINVAL, "listen unbound EINVAL");
    check(bind(l, (struct sockaddr *)&a, al) == 0, "bind path");
    struct stat st;
    check(stat("/tmp/net_unix_stream.sock", &st) == 0 && S_ISSOCK(st.st_mode), "socket file is S_IFSOCK");
    int l2 = socket(AF_UNIX, SOCK_STREAM, 0);
    errno = 0;
    check(bind(l2, (struct sockaddr *)&a, al) == -1 && errno == EADDRINUSE, "bind existing path EADDRINUSE");
    close(l2);
    struct sockaddr_un ga;
    socklen_t gl = sizeof ga;
    check(getsockname(l, (struct sockaddr *)&ga, &gl) == 0 && gl == al && strcmp(ga.sun_path, a.sun_path) == 0,
          "getsockname path");
    int c0 = socket(AF_UNIX, SOCK_STREAM, 0);
    errno = 0;
    check(connect(c0, (struct sockaddr *)&a, al) == -1 && errno == ECONNREFUSED, "connect before listen ECONNREFUSED");
    close(c0);
    check(listen(l, 4) == 0, "listen");
    int acc = 0;
    socklen_t accl = sizeof acc;
    check(getsockopt(l, SOL_SOCKET, SO_ACCEPTCONN, &acc, &accl) == 0 && acc == 1, "SO_ACCEPTCONN");
    /* nonblocking accept with nothing pending */
    int fl = fcntl(l, F_GETFL);
    fcntl(l, F_SETFL, fl | O_NONBLOCK);
    errno = 0;
    check(accept(l, NULL, NULL) == -1 && errno == EAGAIN, "nonblocking accept EAGAIN");
    fcntl(l, F_SETFL, fl);
    pid_t pid = fork();
    if (pid == 0)
        serve(l, 2);
    client_round(&a, al, "path");
    /* relative path from the socket's directory */
    chdir("/tmp");
    struct sockaddr_un ra;
    socklen_t ral = path_addr(&ra, "net_unix_stream.sock");
    int c = socket(AF_UNIX, SOCK_STREAM, 0);
    check(connect(c, (struct sockaddr *)&ra, ral) == 0, "relative path connect");
    write(c, "x", 1);
    char b;
    check(read(c, &b, 1) == 1 && b == 'X', "relative path echo");
    close(c);
    chdir("/");
    int status;
    waitpid(pid, &status, 0);
    check(WIFEXITED(status) && WEXITSTATUS(status) == 0, "path server exit 0");
    close(l);
    /* The file stays after close and refuses connections. */
    c = socket(AF_UNIX, SOCK_STREAM, 0);
    errno = 0;
    check(connect(c, (struct sockaddr *)&a, al) == -1 && errno == ECONNREFUSED, "closed listener ECONNREFUSED");
    close(c);
    check(unlink("/tmp/net_unix_stream.sock") == 0, "unlink socket file");
    c = socket(AF_UNIX, SOCK_STREAM, 0);
    errno = 0;
    check(connect(c, (struct sockaddr *)&a, al) == -1 && errno == ENOENT, "unlinked path ENOENT");
    close(c);
}

static void test_abstract_listener(void) {
    int l = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un a;
    socklen_t al = abstract_addr(&a, "net-unix-stream-test");
    check(bind(l, (struct sockaddr *)&a, al) == 0, "bind abstract");
    int l2 = socket(AF_UNIX, SOCK_STREAM, 0);
    errno = 0;
    check(bind(l2, (struct sockaddr *)&a, al) == -1 && errno == EADDRINUSE, "abstract EADDRINUSE");
    close(l2);
    check(listen(l, 1) == 0, "listen abstract");
    pid_t pid = fork();
    if (pid == 0)
        serve(l, 1);
    client_round(&a, al, "abstract");
    int status;
    waitpid(pid, &status, 0);
    check(WIFEXITED(status) && WEXITSTATUS(status) == 0, "abstract server exit 0");
    close(l);
    /* The name is free again once the socket is gone. */
    l = socket(AF_UNIX, SOCK_STREAM, 0);
    check(bind(l, (struct sockaddr *)&a, al) == 0, "abstract name reusable after close");
    close(l);
    /* autobind: bind with just the family */
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un fa = {.sun_family = AF_UNIX};
    check(bind(s, (struct sockaddr *)&fa, sizeof(sa_family_t)) == 0, "autobind");
    struct sockaddr_un ga;
    socklen_t gl = sizeof ga;
    check(getsockname(s, (struct sockaddr *)&ga, &gl) == 0 && gl == sizeof(sa_family_t) + 6 && ga.sun_path[0] == 0,
          "autobind name is 5 hex digits");
    close(s);
}

static void test_backlog_nonblocking_connect(void) {
    int l = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un a;
    socklen_t al = abstract_addr(&a, "net-unix-backlog");
    bind(l, (struct sockaddr *)&a, al);
    listen(l, 0);
    int ok = 0, eagain = 0;
    int cs[4];
    for (int i = 0; i < 4; i++) {
        cs[i] = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
        if (connect(cs[i], (struct sockaddr *)&a, al) == 0)
            ok++;
        else if (errno == EAGAIN)
            eagain++;
    }
    printf("backlog 0: %d connected, %d EAGAIN\n", ok, eagain);
    /* Data written before accept is there after it. */
    write(cs[0], "early", 5);
    int s = accept(l, NULL, NULL);
    char buf[8] = {0};
    check(read(s, buf, sizeof buf) == 5 && memcmp(buf, "early", 5) == 0, "data before accept");
    errno = 0;
    check(connect(cs[0], (struct sockaddr *)&a, al) == -1 && errno == EISCONN, "second connect EISCONN");
    close(s);
    for (int i = 0; i < 4; i++)
        close(cs[i]);
    close(l);
}

static void test_big_transfer(void) {
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    pid_t pid = fork();
    if (pid == 0) {
        close(sv[0]);
        static char chunk[65536];
        for (int i = 0; i < (int)sizeof chunk; i++)
            chunk[i] = (char)(i * 7);
        for (int i = 0; i < 64; i++) {
            size_t off = 0;
            while (off < sizeof chunk) {
                ssize_t n = write(sv[1], chunk + off, sizeof chunk - off);
                if (n <= 0)
                    _exit(1);
                off += n;
            }
        }
        _exit(0);
    }
    close(sv[1]);
    unsigned long sum = 0, total = 0;
    char buf[10000];
    ssize_t n;
    while ((n = read(sv[0], buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < n; i++)
            sum = sum * 31 + (unsigned char)buf[i];
        total += n;
    }
    printf("big transfer: %lu bytes, checksum %lx\n", total, sum);
    int status;
    waitpid(pid, &status, 0);
    check(WIFEXITED(status) && WEXITSTATUS(status) == 0, "big transfer writer exit 0");
    close(sv[0]);
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    test_pair();
    test_unread_reset();
    test_path_listener();
    test_abstract_listener();
    test_backlog_nonblocking_connect();
    test_big_transfer();
    printf("done: %s\n", failures ? "FAIL" : "ok");
    return failures != 0;
}
