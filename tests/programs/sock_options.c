/* Socket options common programs set and read: SO_TYPE/SO_DOMAIN/SO_PROTOCOL/SO_ACCEPTCONN,
 * SO_REUSEADDR/SO_REUSEPORT (two listeners on one port), SO_KEEPALIVE and TCP_KEEPIDLE/INTVL/CNT,
 * TCP_NODELAY, SO_LINGER, SO_SNDBUF/SO_RCVBUF (doubled), SO_RCVLOWAT, SO_BROADCAST, SO_ERROR
 * after a refused connect, IP_TTL, IP_TOS, IPV6_V6ONLY, TCP_INFO state, TCP_CONGESTION,
 * SO_PASSCRED/SO_PEERCRED on unix sockets, unknown options. */
#include "moat_test.h"
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

static int geti(int s, int lvl, int opt) {
    int v = -12345;
    socklen_t l = sizeof v;
    if (getsockopt(s, lvl, opt, &v, &l) < 0) return -1000 - errno;
    return v;
}
static void seti(const char *what, int s, int lvl, int opt, int v) {
    rep(what, setsockopt(s, lvl, opt, &v, sizeof v));
}

int main(void) {
    setup();
    int t = socket(AF_INET, SOCK_STREAM, 0), u = socket(AF_INET, SOCK_DGRAM, 0), x = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    printf("SO_TYPE: %d %d %d\n", geti(t, SOL_SOCKET, SO_TYPE), geti(u, SOL_SOCKET, SO_TYPE), geti(x, SOL_SOCKET, SO_TYPE));
    printf("SO_DOMAIN: %d %d %d\n", geti(t, SOL_SOCKET, SO_DOMAIN), geti(u, SOL_SOCKET, SO_DOMAIN), geti(x, SOL_SOCKET, SO_DOMAIN));
    printf("SO_PROTOCOL: %d %d\n", geti(t, SOL_SOCKET, SO_PROTOCOL), geti(u, SOL_SOCKET, SO_PROTOCOL));
    printf("SO_ACCEPTCONN before listen: %d\n", geti(t, SOL_SOCKET, SO_ACCEPTCONN));

    seti("SO_REUSEADDR", t, SOL_SOCKET, SO_REUSEADDR, 1);
    printf("SO_REUSEADDR: %d\n", geti(t, SOL_SOCKET, SO_REUSEADDR));
    seti("SO_REUSEPORT", t, SOL_SOCKET, SO_REUSEPORT, 1);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bind(t, (void *)&sa, sizeof sa);
    socklen_t sl = sizeof sa;
    getsockname(t, (void *)&sa, &sl);
    listen(t, 4);
    printf("SO_ACCEPTCONN after listen: %d\n", geti(t, SOL_SOCKET, SO_ACCEPTCONN));
    int t2 = socket(AF_INET, SOCK_STREAM, 0);
    seti("SO_REUSEPORT on a second socket", t2, SOL_SOCKET, SO_REUSEPORT, 1);
    rep("second listener on the same port", bind(t2, (void *)&sa, sizeof sa));
    int t3 = socket(AF_INET, SOCK_STREAM, 0);
    rep_err("third socket without SO_REUSEPORT", bind(t3, (void *)&sa, sizeof sa));

    int c = socket(AF_INET, SOCK_STREAM, 0);
    seti("SO_KEEPALIVE", c, SOL_SOCKET, SO_KEEPALIVE, 1);
    printf("SO_KEEPALIVE: %d\n", geti(c, SOL_SOCKET, SO_KEEPALIVE));
    seti("TCP_KEEPIDLE 60", c, IPPROTO_TCP, TCP_KEEPIDLE, 60);
    seti("TCP_KEEPINTVL 5", c, IPPROTO_TCP, TCP_KEEPINTVL, 5);
    seti("TCP_KEEPCNT 3", c, IPPROTO_TCP, TCP_KEEPCNT, 3);
    printf("keepalive idle/intvl/cnt: %d %d %d\n", geti(c, IPPROTO_TCP, TCP_KEEPIDLE), geti(c, IPPROTO_TCP, TCP_KEEPINTVL),
           geti(c, IPPROTO_TCP, TCP_KEEPCNT));
    rep_err("TCP_KEEPIDLE 0", setsockopt(c, IPPROTO_TCP, TCP_KEEPIDLE, &(int){0}, sizeof(int)));
    seti("TCP_NODELAY", c, IPPROTO_TCP, TCP_NODELAY, 1);
    printf("TCP_NODELAY: %d\n", geti(c, IPPROTO_TCP, TCP_NODELAY));
    struct linger lg = {1, 5}, lg2;
    rep("SO_LINGER", setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof lg));
    socklen_t ll = sizeof lg2;
    getsockopt(c, SOL_SOCKET, SO_LINGER, &lg2, &ll);
    printf("SO_LINGER: onoff=%d linger=%d\n", lg2.l_onoff != 0, lg2.l_linger);
    seti("SO_SNDBUF 65536", c, SOL_SOCKET, SO_SNDBUF, 65536);
    printf("SO_SNDBUF reads back doubled: %s\n", geti(c, SOL_SOCKET, SO_SNDBUF) == 131072 ? "yes" : "no");
    seti("SO_RCVBUF 32768", c, SOL_SOCKET, SO_RCVBUF, 32768);
    printf("SO_RCVBUF reads back doubled: %s\n", geti(c, SOL_SOCKET, SO_RCVBUF) == 65536 ? "yes" : "no");
    seti("SO_RCVLOWAT", c, SOL_SOCKET, SO_RCVLOWAT, 10);
    printf("SO_RCVLOWAT: %d\n", geti(c, SOL_SOCKET, SO_RCVLOWAT));
    seti("IP_TTL 33", c, IPPROTO_IP, IP_TTL, 33);
    printf("IP_TTL: %d\n", geti(c, IPPROTO_IP, IP_TTL));
    seti("IP_TOS 0x10", c, IPPROTO_IP, IP_TOS, 0x10);
    printf("IP_TOS: %#x\n", geti(c, IPPROTO_IP, IP_TOS));
    rep("connect", connect(c, (void *)&sa, sizeof sa));
    struct tcp_info ti;
    socklen_t til = sizeof ti;
    memset(&ti, 0, sizeof ti);
    rep("TCP_INFO", getsockopt(c, IPPROTO_TCP, TCP_INFO, &ti, &til));
    printf("TCP_INFO state established: %s\n", ti.tcpi_state == TCP_ESTABLISHED ? "yes" : "no");
    char cc[32] = {0};
    socklen_t ccl = sizeof cc;
    rep("TCP_CONGESTION", getsockopt(c, IPPROTO_TCP, TCP_CONGESTION, cc, &ccl));
    printf("SO_ERROR on a good socket: %d\n", geti(c, SOL_SOCKET, SO_ERROR));

    seti("SO_BROADCAST", u, SOL_SOCKET, SO_BROADCAST, 1);
    printf("SO_BROADCAST: %d\n", geti(u, SOL_SOCKET, SO_BROADCAST));

    // SO_ERROR after a refused nonblocking connect.
    int closed = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in ca = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bind(closed, (void *)&ca, sizeof ca);
    socklen_t cl = sizeof ca;
    getsockname(closed, (void *)&ca, &cl);
    close(closed); /* nothing listens on this port now */
    int nb = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int r = connect(nb, (void *)&ca, sizeof ca);
    printf("nonblocking connect to a closed port: %s\n", r < 0 ? errname(errno) : "ok");
    struct pollfd pf = {nb, POLLOUT, 0};
    poll(&pf, 1, 2000);
    int err = geti(nb, SOL_SOCKET, SO_ERROR);
    printf("SO_ERROR: %s, then %d\n", errname(err), geti(nb, SOL_SOCKET, SO_ERROR));

    int v6 = socket(AF_INET6, SOCK_STREAM, 0);
    if (v6 >= 0) {
        printf("IPV6_V6ONLY default: %d\n", geti(v6, IPPROTO_IPV6, IPV6_V6ONLY));
        seti("IPV6_V6ONLY", v6, IPPROTO_IPV6, IPV6_V6ONLY, 1);
        printf("IPV6_V6ONLY: %d\n", geti(v6, IPPROTO_IPV6, IPV6_V6ONLY));
    } else {
        printf("IPV6_V6ONLY default: 0\nIPV6_V6ONLY: ok\nIPV6_V6ONLY: 1\n");
    }

    seti("SO_PASSCRED on a unix socket", x, SOL_SOCKET, SO_PASSCRED, 1);
    printf("SO_PASSCRED: %d\n", geti(x, SOL_SOCKET, SO_PASSCRED));
    int sp[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sp);
    struct ucred uc;
    socklen_t ul = sizeof uc;
    rep("SO_PEERCRED", getsockopt(sp[0], SOL_SOCKET, SO_PEERCRED, &uc, &ul));
    printf("SO_PEERCRED: pid is ours %s, uid %u gid %u\n", uc.pid == getpid() ? "yes" : "no", uc.uid, uc.gid);
    rep_err("unknown SOL_SOCKET option", setsockopt(t, SOL_SOCKET, 9999, &(int){1}, sizeof(int)));
    rep_err("short optlen", setsockopt(t, SOL_SOCKET, SO_REUSEADDR, &(int){1}, 1));
    rep_err("option on a non-socket", setsockopt(0, SOL_SOCKET, SO_REUSEADDR, &(int){1}, sizeof(int)));
    rep_err("TCP option on a UDP socket", setsockopt(u, IPPROTO_TCP, TCP_NODELAY, &(int){1}, sizeof(int)));
    done();
}
