/* UDP over loopback: sendto/recvfrom with addresses, connect, MSG_PEEK, MSG_TRUNC,
 * sendmmsg/recvmmsg, IP_PKTINFO control messages, a blocking receiver in a child.
 * Ports are ephemeral and never printed. Ends with "done: ok". */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
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

static int bound(struct sockaddr_in *a) {
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    memset(a, 0, sizeof *a);
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(s, (struct sockaddr *)a, sizeof *a) != 0)
        return -1;
    socklen_t l = sizeof *a;
    getsockname(s, (struct sockaddr *)a, &l);
    return s;
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    struct sockaddr_in aa, ba;
    int a = bound(&aa), b = bound(&ba);
    check(a >= 0 && b >= 0, "udp bind 127.0.0.1:0");
    check(sendto(a, "ping", 4, 0, (struct sockaddr *)&ba, sizeof ba) == 4, "sendto");
    struct sockaddr_in from;
    socklen_t fl = sizeof from;
    char buf[64] = {0};
    check(recvfrom(b, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl) == 4 && fl == sizeof from &&
              from.sin_port == aa.sin_port && strcmp(buf, "ping") == 0,
          "recvfrom reports the sender");
    /* peek then read; truncation */
    sendto(a, "0123456789", 10, 0, (struct sockaddr *)&ba, sizeof ba);
    struct pollfd pf = {b, POLLIN, 0};
    check(poll(&pf, 1, 2000) == 1, "poll POLLIN");
    int n = 0;
    check(ioctl(b, FIONREAD, &n) == 0 && n == 10, "FIONREAD");
    check(recv(b, buf, 4, MSG_PEEK) == 4 && memcmp(buf, "0123", 4) == 0, "MSG_PEEK");
    check(recv(b, buf, 4, MSG_TRUNC) == 10, "MSG_TRUNC returns the datagram length");
    errno = 0;
    check(recv(b, buf, sizeof buf, MSG_DONTWAIT) == -1 && errno == EAGAIN, "empty: EAGAIN");
    /* connected UDP */
    check(connect(a, (struct sockaddr *)&ba, sizeof ba) == 0, "udp connect");
    check(send(a, "conn", 4, 0) == 4 && recv(b, buf, sizeof buf, 0) == 4, "send on connected udp");
    struct sockaddr_in pa;
    socklen_t pl = sizeof pa;
    check(getpeername(a, (struct sockaddr *)&pa, &pl) == 0 && pa.sin_port == ba.sin_port, "udp getpeername");
    struct sockaddr unspec = {.sa_family = AF_UNSPEC};
    check(connect(a, &unspec, sizeof unspec) == 0, "udp disconnect (AF_UNSPEC)");
    pl = sizeof pa;
    errno = 0;
    check(getpeername(a, (struct sockaddr *)&pa, &pl) == -1 && errno == ENOTCONN, "disconnected: ENOTCONN");
    /* sendmmsg / recvmmsg */
    struct mmsghdr msgs[3];
    struct iovec iovs[3];
    const char *texts[3] = {"m-one", "m-two", "m-three"};
    memset(msgs, 0, sizeof msgs);
    for (int i = 0; i < 3; i++) {
        iovs[i].iov_base = (void *)texts[i];
        iovs[i].iov_len = strlen(texts[i]);
        msgs[i].msg_hdr.msg_iov = &iovs[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
        msgs[i].msg_hdr.msg_name = &ba;
        msgs[i].msg_hdr.msg_namelen = sizeof ba;
    }
    check(sendmmsg(a, msgs, 3, 0) == 3 && msgs[2].msg_len == 7, "sendmmsg 3");
    char rb[3][16];
    struct mmsghdr rm[3];
    struct iovec riov[3];
    memset(rm, 0, sizeof rm);
    memset(rb, 0, sizeof rb);
    for (int i = 0; i < 3; i++) {
        riov[i].iov_base = rb[i];
        riov[i].iov_len = sizeof rb[i] - 1;
        rm[i].msg_hdr.msg_iov = &riov[i];
        rm[i].msg_hdr.msg_iovlen = 1;
    }
    /* wait until all three are queued so the batch is deterministic */
    for (int i = 0; i < 100; i++) {
        usleep(1000);
    }
    int got = recvmmsg(b, rm, 3, MSG_WAITFORONE, NULL);
    check(got == 3 && strcmp(rb[0], "m-one") == 0 && strcmp(rb[2], "m-three") == 0 && rm[1].msg_len == 5,
          "recvmmsg 3");
    /* IP_PKTINFO ancillary data */
    int one = 1;
    check(setsockopt(b, IPPROTO_IP, IP_PKTINFO, &one, sizeof one) == 0, "IP_PKTINFO on");
    sendto(a, "pkt", 3, 0, (struct sockaddr *)&ba, sizeof ba);
    char cbuf[256];
    struct iovec iov = {buf, sizeof buf};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
    int pk = 0;
    if (recvmsg(b, &mh, 0) == 3)
        for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
            if (cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_PKTINFO) {
                struct in_pktinfo pi;
                memcpy(&pi, CMSG_DATA(cm), sizeof pi);
                pk = pi.ipi_addr.s_addr == htonl(INADDR_LOOPBACK);
            }
    check(pk, "IP_PKTINFO names 127.0.0.1");
    /* a child blocks in recvfrom until the parent sends */
    pid_t pid = fork();
    if (pid == 0) {
        char m[16] = {0};
        ssize_t r = recvfrom(b, m, sizeof m - 1, 0, NULL, NULL);
        _exit(r == 4 && strcmp(m, "wake") == 0 ? 0 : 1);
    }
    usleep(50000);
    sendto(a, "wake", 4, 0, (struct sockaddr *)&ba, sizeof ba);
    int status;
    waitpid(pid, &status, 0);
    check(WIFEXITED(status) && WEXITSTATUS(status) == 0, "blocked receiver woken");
    int v = 0;
    socklen_t vl = sizeof v;
    check(getsockopt(b, SOL_SOCKET, SO_TYPE, &v, &vl) == 0 && v == SOCK_DGRAM, "SO_TYPE dgram");
    close(a);
    close(b);
    printf("done: %s\n", failures ? "FAIL" : "ok");
    return failures != 0;
}
