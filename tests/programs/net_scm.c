/* SCM_RIGHTS and SCM_CREDENTIALS over AF_UNIX sockets: passing pipe and file descriptors
 * between processes, MSG_CTRUNC when the control buffer is short, MSG_CMSG_CLOEXEC, peeking
 * at files, credentials with SO_PASSCRED. Ends with "done: ok". */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

static int send_fds(int s, const char *data, const int *fds, int n) {
    char cbuf[CMSG_SPACE(sizeof(int) * 8)];
    memset(cbuf, 0, sizeof cbuf);
    struct iovec iov = {(void *)data, strlen(data)};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
                        .msg_controllen = CMSG_SPACE(sizeof(int) * n)};
    struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int) * n);
    memcpy(CMSG_DATA(cm), fds, sizeof(int) * n);
    return sendmsg(s, &mh, 0);
}

/* Receives up to `max` fds; returns how many, data in buf, flags in *flags. */
static int recv_fds(int s, char *buf, size_t len, int *fds, int max, size_t ctl_room, int rflags, int *flags) {
    char cbuf[256];
    memset(cbuf, 0, sizeof cbuf);
    struct iovec iov = {buf, len};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl_room ? cbuf : NULL,
                        .msg_controllen = ctl_room};
    ssize_t r = recvmsg(s, &mh, rflags);
    if (r < 0)
        return -1;
    buf[r] = 0;
    *flags = mh.msg_flags;
    int got = 0;
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
        if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
            int n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            for (int i = 0; i < n && got < max; i++)
                memcpy(&fds[got++], CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
        }
    }
    return got;
}

static void test_pass_across_fork(void) {
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    pid_t pid = fork();
    if (pid == 0) {
        close(sv[0]);
        /* the child opens a pipe and a file and hands them over */
        int p[2];
        pipe(p);
        write(p[1], "through the pipe", 16);
        close(p[1]);
        int f = open("/tmp/net_scm_file", O_RDWR | O_CREAT | O_TRUNC, 0600);
        write(f, "file contents", 13);
        lseek(f, 5, SEEK_SET);
        int fds[2] = {p[0], f};
        if (send_fds(sv[1], "two fds", fds, 2) != 7)
            _exit(1);
        close(p[0]);
        close(f);
        char b;
        read(sv[1], &b, 1); /* wait for the parent */
        _exit(0);
    }
    close(sv[1]);
    char buf[64];
    int fds[4], flags = 0;
    int n = recv_fds(sv[0], buf, sizeof buf - 1, fds, 4, 256, 0, &flags);
    check(n == 2 && strcmp(buf, "two fds") == 0 && !(flags & MSG_CTRUNC), "received two fds");
    if (n == 2) {
        char data[32] = {0};
        check(read(fds[0], data, sizeof data) == 16 && strcmp(data, "through the pipe") == 0, "passed pipe readable");
        memset(data, 0, sizeof data);
        check(read(fds[1], data, sizeof data) == 8 && strcmp(data, "contents") == 0, "passed file keeps its offset");
        check(fcntl(fds[0], F_GETFD) == 0, "received fd not cloexec");
        close(fds[0]);
        close(fds[1]);
    }
    write(sv[0], "x", 1);
    int status;
    waitpid(pid, &status, 0);
    check(WIFEXITED(status) && WEXITSTATUS(status) == 0, "sender exit 0");
    close(sv[0]);
    unlink("/tmp/net_scm_file");
}

static void test_ctrunc_and_cloexec(void) {
    int sv[2];
    socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
    int p[2];
    pipe(p);
    int three[3] = {p[0], p[1], p[0]};
    send_fds(sv[0], "three", three, 3);
    char buf[64];
    int fds[4], flags = 0;
    /* room for the header and one fd only */
    int n = recv_fds(sv[1], buf, sizeof buf - 1, fds, 4, CMSG_LEN(sizeof(int)), 0, &flags);
    check(n == 1 && (flags & MSG_CTRUNC), "short control buffer: one fd + MSG_CTRUNC");
    if (n >= 1)
        close(fds[0]);
    send_fds(sv[0], "none", three, 1);
    n = recv_fds(sv[1], buf, sizeof buf - 1, fds, 4, 0, 0, &flags);
    check(n == 0 && (flags & MSG_CTRUNC), "no control buffer: MSG_CTRUNC");
    send_fds(sv[0], "cloexec", three, 1);
    n = recv_fds(sv[1], buf, sizeof buf - 1, fds, 4, 256, MSG_CMSG_CLOEXEC, &flags);
    check(n == 1 && fcntl(fds[0], F_GETFD) == FD_CLOEXEC, "MSG_CMSG_CLOEXEC sets close-on-exec");
    if (n == 1)
        close(fds[0]);
    /* peeking duplicates the files; the real read gets them again */
    send_fds(sv[0], "peek", three, 1);
    n = recv_fds(sv[1], buf, sizeof buf - 1, fds, 4, 256, MSG_PEEK, &flags);
    int n2 = recv_fds(sv[1], buf, sizeof buf - 1, fds + 1, 3, 256, 0, &flags);
    check(n == 1 && n2 == 1 && fds[0] != fds[1], "MSG_PEEK gives its own copy of the fds");
    if (n == 1)
        close(fds[0]);
    if (n2 == 1)
        close(fds[1]);
    /* bad fds and too many fds */
    int bad[1] = {987};
    errno = 0;
    check(send_fds(sv[0], "bad", bad, 1) == -1 && errno == EBADF, "SCM_RIGHTS with a bad fd: EBADF");
    close(p[0]);
    close(p[1]);
    close(sv[0]);
    close(sv[1]);
}

static void test_credentials(void) {
    int sv[2];
    socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
    int one = 1;
    check(setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &one, sizeof one) == 0, "SO_PASSCRED");
    int v = 0;
    socklen_t vl = sizeof v;
    check(getsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &v, &vl) == 0 && v == 1, "SO_PASSCRED reads back");
    pid_t pid = fork();
    if (pid == 0) {
        send(sv[0], "implicit", 8, 0);
        /* explicit credentials of our own */
        struct ucred uc = {getpid(), getuid(), getgid()};
        char cbuf[CMSG_SPACE(sizeof uc)];
        struct iovec iov = {"explicit", 8};
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
        struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_CREDENTIALS;
        cm->cmsg_len = CMSG_LEN(sizeof uc);
        memcpy(CMSG_DATA(cm), &uc, sizeof uc);
        if (sendmsg(sv[0], &mh, 0) != 8)
            _exit(1);
        /* claiming someone else's pid is refused */
        uc.pid = getppid();
        memcpy(CMSG_DATA(cm), &uc, sizeof uc);
        if (getuid() != 0 && sendmsg(sv[0], &mh, 0) != -1)
            _exit(2);
        _exit(0);
    }
    for (int i = 0; i < 2; i++) {
        char buf[16] = {0};
        char cbuf[CMSG_SPACE(sizeof(struct ucred))];
        struct iovec iov = {buf, sizeof buf - 1};
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
        ssize_t r = recvmsg(sv[1], &mh, 0);
        struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
        struct ucred uc = {0, 0, 0};
        if (cm && cm->cmsg_type == SCM_CREDENTIALS)
            memcpy(&uc, CMSG_DATA(cm), sizeof uc);
        char label[64];
        snprintf(label, sizeof label, "%s credentials name the sender", buf);
        check(r == 8 && cm && uc.pid == pid && uc.uid == getuid() && uc.gid == getgid(), label);
    }
    int status;
    waitpid(pid, &status, 0);
    check(WIFEXITED(status) && WEXITSTATUS(status) == 0, "credential sender exit 0");
    close(sv[0]);
    close(sv[1]);
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    test_pass_across_fork();
    test_ctrunc_and_cloexec();
    test_credentials();
    printf("done: %s\n", failures ? "FAIL" : "ok");
    return failures != 0;
}
