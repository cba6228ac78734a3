/* sendmsg/recvmsg and friends: scatter/gather iovecs, MSG_PEEK, MSG_WAITALL across several
 * writes, MSG_TRUNC/MSG_CTRUNC flags on datagrams, MSG_DONTWAIT, MSG_NOSIGNAL vs SIGPIPE,
 * sendmmsg/recvmmsg batches on unix datagrams and UDP, msg_name on UDP, a 1 MiB stream in both
 * directions at once, shutdown(SHUT_RD/SHUT_WR/SHUT_RDWR) effects. */
#include "moat_test.h"
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>

int main(void) {
    setup();
    int sp[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sp);
    struct iovec out[3] = {{"scat", 4}, {"ter/", 4}, {"gather", 6}};
    struct msghdr mh = {.msg_iov = out, .msg_iovlen = 3};
    printf("sendmsg 3 iovecs: %zd\n", sendmsg(sp[0], &mh, 0));
    char a[5] = {0}, b[20] = {0};
    struct iovec in[2] = {{a, 4}, {b, sizeof b - 1}};
    struct msghdr rh = {.msg_iov = in, .msg_iovlen = 2};
    char peek[8] = {0};
    printf("MSG_PEEK: %zd %s\n", recv(sp[1], peek, 7, MSG_PEEK), peek);
    printf("recvmsg: %zd [%s][%s] flags=%#x\n", recvmsg(sp[1], &rh, 0), a, b, rh.msg_flags);
    errno = 0;
    printf("MSG_DONTWAIT on empty: %zd %s\n", recv(sp[1], b, 4, MSG_DONTWAIT), errname(errno));

    pid_t p = fork();
    if (p == 0) {
        for (int i = 0; i < 4; i++) {
            sleep_ms(20);
            write(sp[0], "abcd", 4);
        }
        _exit(0);
    }
    char w[16] = {0};
    printf("MSG_WAITALL for 16 bytes written in 4 pieces: %zd %s\n", recv(sp[1], w, 16, MSG_WAITALL), w);
    waitpid(p, NULL, 0);

    // Datagram truncation and control truncation flags.
    int dg[2];
    socketpair(AF_UNIX, SOCK_DGRAM, 0, dg);
    send(dg[0], "0123456789", 10, 0);
    char small[4];
    struct iovec si = {small, 4};
    struct msghdr th = {.msg_iov = &si, .msg_iovlen = 1};
    ssize_t n = recvmsg(dg[1], &th, 0);
    printf("short buffer: %zd MSG_TRUNC=%d\n", n, !!(th.msg_flags & MSG_TRUNC));
    send(dg[0], "0123456789", 10, 0);
    printf("recv with MSG_TRUNC returns the real length: %zd\n", recv(dg[1], small, 4, MSG_TRUNC));
    send(dg[0], "x", 1, 0);
    printf("zero-length datagram buffer: %zd\n", recv(dg[1], small, 0, 0));

    // sendmmsg/recvmmsg.
    struct mmsghdr mm[4];
    struct iovec iv[4];
    char *words[4] = {"one", "two!", "three", "4"};
    for (int i = 0; i < 4; i++) {
        iv[i].iov_base = words[i];
        iv[i].iov_len = strlen(words[i]);
        memset(&mm[i], 0, sizeof mm[i]);
        mm[i].msg_hdr.msg_iov = &iv[i];
        mm[i].msg_hdr.msg_iovlen = 1;
    }
    printf("sendmmsg: %d\n", sendmmsg(dg[0], mm, 4, 0));
    char rb[4][16];
    struct iovec riv[4];
    struct mmsghdr rm[4];
    for (int i = 0; i < 4; i++) {
        memset(rb[i], 0, 16);
        riv[i].iov_base = rb[i];
        riv[i].iov_len = 15;
        memset(&rm[i], 0, sizeof rm[i]);
        rm[i].msg_hdr.msg_iov = &riv[i];
        rm[i].msg_hdr.msg_iovlen = 1;
    }
    int got = recvmmsg(dg[1], rm, 4, MSG_DONTWAIT, NULL);
    printf("recvmmsg: %d:", got);
    for (int i = 0; i < got; i++) printf(" %s/%u", rb[i], rm[i].msg_len);
    printf("\n");

    // UDP with addresses.
    int u1 = socket(AF_INET, SOCK_DGRAM, 0), u2 = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in s1 = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)}, s2 = s1, from;
    bind(u1, (void *)&s1, sizeof s1);
    bind(u2, (void *)&s2, sizeof s2);
    socklen_t l = sizeof s1;
    getsockname(u1, (void *)&s1, &l);
    l = sizeof s2;
    getsockname(u2, (void *)&s2, &l);
    for (int i = 0; i < 3; i++) {
        mm[i].msg_hdr.msg_name = &s1;
        mm[i].msg_hdr.msg_namelen = sizeof s1;
    }
    printf("UDP sendmmsg with addresses: %d\n", sendmmsg(u2, mm, 3, 0));
    struct sockaddr_in names[3];
    for (int i = 0; i < 3; i++) {
        memset(rb[i], 0, 16);
        rm[i].msg_hdr.msg_name = &names[i];
        rm[i].msg_hdr.msg_namelen = sizeof names[i];
    }
    sleep_ms(20);
    got = recvmmsg(u1, rm, 3, MSG_DONTWAIT, NULL);
    int from_ok = 1;
    for (int i = 0; i < got; i++) from_ok &= names[i].sin_port == s2.sin_port && rm[i].msg_hdr.msg_namelen == sizeof s2;
    printf("UDP recvmmsg: %d, sender names right: %s\n", got, from_ok ? "yes" : "no");
    struct iovec one = {"direct", 6};
    struct msghdr dm = {.msg_name = &s1, .msg_namelen = sizeof s1, .msg_iov = &one, .msg_iovlen = 1};
    sendmsg(u2, &dm, 0);
    char db[16] = {0};
    struct iovec dr = {db, 15};
    struct msghdr rdm = {.msg_name = &from, .msg_namelen = sizeof from, .msg_iov = &dr, .msg_iovlen = 1};
    recvmsg(u1, &rdm, 0);
    printf("UDP recvmsg: %s from the right port: %s\n", db, from.sin_port == s2.sin_port ? "yes" : "no");
    rep_err("UDP send without an address", send(u2, "x", 1, 0));

    // SIGPIPE and MSG_NOSIGNAL.
    int pr[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, pr);
    close(pr[1]);
    errno = 0;
    printf("send MSG_NOSIGNAL to a closed peer: %zd %s\n", send(pr[0], "x", 1, MSG_NOSIGNAL), errname(errno));
    p = fork();
    if (p == 0) {
        send(pr[0], "x", 1, 0);
        _exit(0);
    }
    reap("send without MSG_NOSIGNAL", p);

    // shutdown.
    int sh[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sh);
    rep("SHUT_WR", shutdown(sh[0], SHUT_WR));
    printf("peer reads EOF: %zd\n", read(sh[1], b, 4));
    errno = 0;
    printf("write after SHUT_WR (MSG_NOSIGNAL): %zd %s\n", send(sh[0], "x", 1, MSG_NOSIGNAL), errname(errno));
    printf("the other direction still works: %zd\n", write(sh[1], "back", 4));
    printf("read it: %zd\n", read(sh[0], b, 4));
    rep("SHUT_RD", shutdown(sh[0], SHUT_RD));
    printf("read after SHUT_RD: %zd\n", read(sh[0], b, 4));
    rep_err("shutdown bad how", shutdown(sh[0], 7));
    rep_err("shutdown on a non-socket", shutdown(0, SHUT_RD));

    // A big bidirectional transfer.
    int big[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, big);
    p = fork();
    if (p == 0) {
        static char buf[1 << 20];
        for (int i = 0; i < (1 << 20); i++) buf[i] = (char)(i * 7);
        size_t off = 0;
        while (off < sizeof buf) {
            ssize_t k = write(big[1], buf + off, sizeof buf - off);
            if (k <= 0) _exit(1);
            off += k;
        }
        unsigned long sum = 0;
        char r[4096];
        ssize_t k;
        size_t total = 0;
        while (total < (1 << 20) && (k = read(big[1], r, sizeof r)) > 0) {
            for (ssize_t i = 0; i < k; i++) sum = sum * 31 + (unsigned char)r[i];
            total += k;
        }
        _exit(total == (1 << 20) ? 0 : 2);
    }
    static char back[1 << 20];
    for (int i = 0; i < (1 << 20); i++) back[i] = (char)i;
    size_t sent = 0, recvd = 0;
    unsigned long sum = 0;
    char r[4096];
    while (recvd < (1 << 20) || sent < (1 << 20)) {
        if (sent < (1 << 20)) {
            ssize_t k = send(big[0], back + sent, (1 << 20) - sent > 8192 ? 8192 : (1 << 20) - sent, MSG_DONTWAIT);
            if (k > 0) sent += k;
        }
        ssize_t k = recv(big[0], r, sizeof r, MSG_DONTWAIT);
        if (k > 0) {
            for (ssize_t i = 0; i < k; i++) sum = sum * 31 + (unsigned char)r[i];
            recvd += k;
        }
    }
    printf("1 MiB each way: received %zu, checksum %lx\n", recvd, sum);
    reap("bulk child", p);
    done();
}
