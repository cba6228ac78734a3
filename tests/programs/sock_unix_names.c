/* AF_UNIX addresses: path names (socket file type, EADDRINUSE until unlinked, ECONNREFUSED on a
 * stale file, ENOENT, the 108-byte limit, relative paths), abstract names (with embedded NULs,
 * invisible in the filesystem, released on close), autobind (5 hex digits), the address
 * lengths getsockname/getpeername/accept/recvfrom return, unnamed socketpair peers. */
#include "moat_test.h"
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>

static socklen_t pathaddr(struct sockaddr_un *a, const char *p) {
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    strcpy(a->sun_path, p);
    return offsetof(struct sockaddr_un, sun_path) + strlen(p) + 1;
}
static socklen_t absaddr(struct sockaddr_un *a, const char *p, size_t n) {
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    memcpy(a->sun_path + 1, p, n);
    return offsetof(struct sockaddr_un, sun_path) + 1 + n;
}
static void name(const char *what, struct sockaddr_un *a, socklen_t len) {
    long plen = (long)len - (long)offsetof(struct sockaddr_un, sun_path);
    printf("%s: len=%u ", what, len);
    if (plen <= 0)
        printf("(unnamed)\n");
    else if (a->sun_path[0] == 0) {
        printf("abstract [");
        for (long i = 1; i < plen; i++) putchar(a->sun_path[i] ? a->sun_path[i] : '@');
        printf("]\n");
    } else
        printf("path %s\n", a->sun_path);
}

int main(void) {
    setup();
    char dir[64];
    scratch("sock_unix_names", dir, sizeof dir);
    chdir(dir);
    struct sockaddr_un a, b;
    socklen_t al = pathaddr(&a, "/tmp/sock_unix_names.d/srv");
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    rep("bind path", bind(s, (void *)&a, al));
    struct stat st;
    stat(a.sun_path, &st);
    printf("socket file: %s mode=%04o\n", S_ISSOCK(st.st_mode) ? "S_IFSOCK" : "other", st.st_mode & 0777);
    socklen_t bl = sizeof b;
    getsockname(s, (void *)&b, &bl);
    name("getsockname", &b, bl);
    int s2 = socket(AF_UNIX, SOCK_STREAM, 0);
    rep_err("bind the same path again", bind(s2, (void *)&a, al));
    struct sockaddr_un other;
    socklen_t ol = pathaddr(&other, "/tmp/sock_unix_names.d/other");
    rep_err("bind an already bound socket to another path", bind(s, (void *)&other, ol));
    int c = socket(AF_UNIX, SOCK_STREAM, 0);
    rep_err("connect before listen", connect(c, (void *)&a, al));
    listen(s, 4);
    rep("connect", connect(c, (void *)&a, al));
    bl = sizeof b;
    int acc = accept(s, (void *)&b, &bl);
    name("accept's peer address (unbound client)", &b, bl);
    bl = sizeof b;
    getpeername(c, (void *)&b, &bl);
    name("client's getpeername", &b, bl);
    bl = sizeof b;
    getsockname(acc, (void *)&b, &bl);
    name("accepted socket's getsockname", &b, bl);
    close(acc);
    close(c);
    close(s);
    c = socket(AF_UNIX, SOCK_STREAM, 0);
    rep_err("connect to a stale socket file", connect(c, (void *)&a, al));
    rep("unlink the socket file", unlink(a.sun_path));
    rep("bind the path again after unlink", bind(s2, (void *)&a, al));
    struct sockaddr_un m;
    socklen_t ml = pathaddr(&m, "/tmp/sock_unix_names.d/missing");
    rep_err("connect to a missing path", connect(c, (void *)&m, ml));
    ml = pathaddr(&m, "/tmp/sock_unix_names.d");
    rep_err("connect to a directory", connect(c, (void *)&m, ml));
    ml = pathaddr(&m, "/tmp/sock_unix_names.d/nodir/x");
    rep_err("bind under a missing directory", bind(socket(AF_UNIX, SOCK_STREAM, 0), (void *)&m, ml));
    ml = pathaddr(&m, "rel");
    int r = socket(AF_UNIX, SOCK_DGRAM, 0);
    rep("bind a relative path", bind(r, (void *)&m, ml));
    printf("relative socket file exists: %s\n", access("/tmp/sock_unix_names.d/rel", F_OK) == 0 ? "yes" : "no");
    memset(&m, 0, sizeof m);
    m.sun_family = AF_UNIX;
    memset(m.sun_path, 'p', sizeof m.sun_path);
    rep_err("bind a 108-byte path without NUL", bind(socket(AF_UNIX, SOCK_STREAM, 0), (void *)&m, sizeof m));
    rep_err("bind with a short address length", bind(socket(AF_UNIX, SOCK_STREAM, 0), (void *)&m, 1));
    rep_err("bind with a wrong family", bind(socket(AF_UNIX, SOCK_STREAM, 0), (void *)&(struct sockaddr){.sa_family = AF_INET}, sizeof(struct sockaddr)));

    // Abstract names.
    int as = socket(AF_UNIX, SOCK_STREAM, 0);
    socklen_t abl = absaddr(&a, "moat\0test", 9);
    rep("bind abstract with an embedded NUL", bind(as, (void *)&a, abl));
    listen(as, 4);
    bl = sizeof b;
    getsockname(as, (void *)&b, &bl);
    name("abstract getsockname", &b, bl);
    int ac = socket(AF_UNIX, SOCK_STREAM, 0);
    socklen_t wrong = absaddr(&m, "moat", 4);
    rep_err("connect to a prefix of the name", connect(ac, (void *)&m, wrong));
    rep("connect to the exact abstract name", connect(ac, (void *)&a, abl));
    close(ac);
    close(as);
    as = socket(AF_UNIX, SOCK_STREAM, 0);
    rep("abstract name free again after close", bind(as, (void *)&a, abl));

    // Autobind.
    int au = socket(AF_UNIX, SOCK_DGRAM, 0);
    struct sockaddr_un fam = {.sun_family = AF_UNIX};
    rep("autobind (address length = sizeof(sa_family_t))", bind(au, (void *)&fam, sizeof(sa_family_t)));
    bl = sizeof b;
    getsockname(au, (void *)&b, &bl);
    int hex = bl == offsetof(struct sockaddr_un, sun_path) + 6 && b.sun_path[0] == 0;
    for (int i = 1; i < 6 && hex; i++) hex = strchr("0123456789abcdef", b.sun_path[i]) != NULL;
    printf("autobound name is NUL + 5 hex digits: %s\n", hex ? "yes" : "no");
    int tx = socket(AF_UNIX, SOCK_DGRAM, 0);
    sendto(tx, "hi", 2, 0, (void *)&b, bl);
    char buf[8];
    struct sockaddr_un from;
    socklen_t fl = sizeof from;
    recvfrom(au, buf, sizeof buf, 0, (void *)&from, &fl);
    name("recvfrom an unbound sender", &from, fl);
    int tx2 = socket(AF_UNIX, SOCK_DGRAM, 0);
    bind(tx2, (void *)&fam, sizeof(sa_family_t));
    sendto(tx2, "hi", 2, 0, (void *)&b, bl);
    fl = sizeof from;
    recvfrom(au, buf, sizeof buf, 0, (void *)&from, &fl);
    printf("recvfrom an autobound sender: len=%u abstract=%s\n", fl, from.sun_path[0] == 0 ? "yes" : "no");

    int sp[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sp);
    bl = sizeof b;
    getsockname(sp[0], (void *)&b, &bl);
    name("socketpair getsockname", &b, bl);
    bl = sizeof b;
    getpeername(sp[0], (void *)&b, &bl);
    name("socketpair getpeername", &b, bl);
    bl = sizeof b;
    rep_err("getpeername on an unconnected socket", getpeername(au, (void *)&b, &bl));
    rep_err("socketpair AF_INET", socketpair(AF_INET, SOCK_STREAM, 0, sp));
    rep_err("unknown type", socket(AF_UNIX, 99, 0));
    rep_err("bad protocol", socket(AF_UNIX, SOCK_STREAM, 5));
    chdir("/");
    scratch_done(dir);
    done();
}
