/* IPv6 on loopback: TCP connect/accept over ::1 with the addresses each side sees, UDP over ::1,
 * a dual-stack listener accepting an IPv4 client as ::ffff:127.0.0.1, IPV6_V6ONLY refusing it,
 * getaddrinfo-free literal parsing with inet_pton/inet_ntop, scope ids. When the host has no
 * IPv6 at all both runs print the same skip line. */
#include "moat_test.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

int main(void) {
    setup();
    int t = socket(AF_INET6, SOCK_STREAM, 0);
    struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    if (t < 0 || bind(t, (void *)&a, sizeof a) < 0) {
        printf("no IPv6 loopback: skipped\n");
        done();
    }
    socklen_t l = sizeof a;
    getsockname(t, (void *)&a, &l);
    listen(t, 4);
    char txt[INET6_ADDRSTRLEN];
    printf("listening on %s, addrlen %u\n", inet_ntop(AF_INET6, &a.sin6_addr, txt, sizeof txt), l);
    int c = socket(AF_INET6, SOCK_STREAM, 0);
    rep("connect to [::1]", connect(c, (void *)&a, sizeof a));
    struct sockaddr_in6 peer;
    socklen_t pl = sizeof peer;
    int s = accept(t, (void *)&peer, &pl);
    printf("accepted from %s, family AF_INET6: %s\n", inet_ntop(AF_INET6, &peer.sin6_addr, txt, sizeof txt),
           peer.sin6_family == AF_INET6 ? "yes" : "no");
    write(c, "v6 hello", 8);
    char buf[32] = {0};
    read(s, buf, sizeof buf);
    printf("server read: %s\n", buf);
    struct sockaddr_in6 cn;
    socklen_t cl = sizeof cn;
    getpeername(c, (void *)&cn, &cl);
    printf("client's peer port matches: %s\n", cn.sin6_port == a.sin6_port ? "yes" : "no");
    close(c);
    printf("EOF after the client closed: %zd\n", read(s, buf, sizeof buf));
    close(s);

    // Dual stack: an IPv4 client reaches an in6addr_any listener without V6ONLY.
    int d = socket(AF_INET6, SOCK_STREAM, 0);
    int off = 0;
    setsockopt(d, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
    struct sockaddr_in6 any = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_ANY_INIT};
    bind(d, (void *)&any, sizeof any);
    l = sizeof any;
    getsockname(d, (void *)&any, &l);
    listen(d, 4);
    int c4 = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_port = any.sin6_port, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    rep("IPv4 connect to a dual-stack listener", connect(c4, (void *)&a4, sizeof a4));
    pl = sizeof peer;
    s = accept(d, (void *)&peer, &pl);
    printf("peer seen as %s\n", inet_ntop(AF_INET6, &peer.sin6_addr, txt, sizeof txt));
    close(s);
    close(c4);
    int v6only = socket(AF_INET6, SOCK_STREAM, 0);
    int on = 1;
    setsockopt(v6only, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on);
    struct sockaddr_in6 any2 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_ANY_INIT};
    bind(v6only, (void *)&any2, sizeof any2);
    l = sizeof any2;
    getsockname(v6only, (void *)&any2, &l);
    listen(v6only, 4);
    c4 = socket(AF_INET, SOCK_STREAM, 0);
    a4.sin_port = any2.sin6_port;
    rep_err("IPv4 connect to a V6ONLY listener", connect(c4, (void *)&a4, sizeof a4));

    // UDP over ::1.
    int u1 = socket(AF_INET6, SOCK_DGRAM, 0), u2 = socket(AF_INET6, SOCK_DGRAM, 0);
    struct sockaddr_in6 ua = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT}, ub = ua, from;
    bind(u1, (void *)&ua, sizeof ua);
    l = sizeof ua;
    getsockname(u1, (void *)&ua, &l);
    bind(u2, (void *)&ub, sizeof ub);
    l = sizeof ub;
    getsockname(u2, (void *)&ub, &l);
    sendto(u2, "udp6", 4, 0, (void *)&ua, sizeof ua);
    socklen_t fl = sizeof from;
    memset(buf, 0, sizeof buf);
    ssize_t n = recvfrom(u1, buf, sizeof buf, 0, (void *)&from, &fl);
    printf("UDP over ::1: %zd %s from the right port: %s, namelen %u\n", n, buf, from.sin6_port == ub.sin6_port ? "yes" : "no", fl);
    rep_err("bind an IPv4 address to an AF_INET6 socket", bind(socket(AF_INET6, SOCK_DGRAM, 0), (void *)&a4, sizeof a4));
    struct sockaddr_in6 bad = {.sin6_family = AF_INET6};
    inet_pton(AF_INET6, "2001:db8::1", &bad.sin6_addr);
    rep_err("bind a non-local IPv6 address", bind(socket(AF_INET6, SOCK_DGRAM, 0), (void *)&bad, sizeof bad));
    struct in6_addr x;
    int pt = inet_pton(AF_INET6, "fe80::1:2", &x);
    printf("inet_pton/ntop round trip: %d %s\n", pt, inet_ntop(AF_INET6, &x, txt, sizeof txt));
    done();
}
