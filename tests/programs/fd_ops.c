/* File descriptor operations: dup/dup2/dup3 (O_CLOEXEC, same fd), F_DUPFD/F_DUPFD_CLOEXEC
 * lowest free fd, close_range (plain, CLOSE_RANGE_CLOEXEC), offsets shared by dups and across
 * fork but not by separate opens, pipes (F_GETPIPE_SZ/F_SETPIPE_SZ, FIONREAD, atomic writes of
 * PIPE_BUF, EPIPE/SIGPIPE, O_NONBLOCK EAGAIN, pipe2 flags), ioctl FIOCLEX/FIONCLEX/FIONBIO. */
#include "moat_test.h"
#include <fcntl.h>
#include <limits.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>

int main(void) {
    setup();
    int fd = open("/tmp/fd_ops.f", O_RDWR | O_CREAT | O_TRUNC, 0644);
    write(fd, "abcdefgh", 8);
    int d = dup(fd);
    printf("dup is the lowest free fd: %s\n", d == fd + 1 ? "yes" : "no");
    lseek(fd, 2, SEEK_SET);
    printf("dups share the offset: %ld\n", (long)lseek(d, 0, SEEK_CUR));
    int sep = open("/tmp/fd_ops.f", O_RDONLY);
    printf("a separate open does not: %ld\n", (long)lseek(sep, 0, SEEK_CUR));
    rep("dup2 to 50", dup2(fd, 50));
    rep("dup2 to itself", dup2(fd, fd));
    rep_err("dup3 to itself", dup3(fd, fd, 0));
    rep("dup3 O_CLOEXEC", dup3(fd, 51, O_CLOEXEC));
    printf("fd 51 cloexec: %d, fd 50 cloexec: %d\n", fcntl(51, F_GETFD), fcntl(50, F_GETFD));
    rep_err("dup3 bad flags", dup3(fd, 52, 1));
    rep_err("dup2 of a closed fd", dup2(99, 52));
    rep_err("dup2 to a negative fd", dup2(fd, -1));
    printf("F_DUPFD from 40: %d\n", fcntl(fd, F_DUPFD, 40));
    printf("F_DUPFD from 40 again: %d\n", fcntl(fd, F_DUPFD, 40));
    int dc = fcntl(fd, F_DUPFD_CLOEXEC, 60);
    printf("F_DUPFD_CLOEXEC: %d cloexec %d\n", dc, fcntl(dc, F_GETFD));
    rep_err("F_DUPFD beyond RLIMIT_NOFILE", fcntl(fd, F_DUPFD, 100000));
    rep_err("F_GETFD on a closed fd", fcntl(77, F_GETFD));
    rep_err("close of a closed fd", close(77));
    rep_err("fcntl unknown command", fcntl(fd, 12345));

    rep("close_range 40..45", syscall(SYS_close_range, 40, 45, 0));
    printf("fd 40 closed: %s, 50 open: %s\n", fcntl(40, F_GETFD) < 0 ? "yes" : "no", fcntl(50, F_GETFD) >= 0 ? "yes" : "no");
    rep("close_range CLOSE_RANGE_CLOEXEC 50..~0", syscall(SYS_close_range, 50, ~0U, 4));
    printf("fd 50 now cloexec: %d, still open: %s\n", fcntl(50, F_GETFD), fcntl(50, F_GETFD) >= 0 ? "yes" : "no");
    rep_err("close_range first > last", syscall(SYS_close_range, 10, 5, 0));
    rep_err("close_range bad flags", syscall(SYS_close_range, 10, 20, 0x80));
    syscall(SYS_close_range, 50, ~0U, 0);
    printf("after closing 50..: 60 open: %s\n", fcntl(60, F_GETFD) >= 0 ? "yes" : "no");

    lseek(fd, 0, SEEK_SET);
    pid_t p = fork();
    if (p == 0) {
        lseek(fd, 6, SEEK_SET);
        _exit(0);
    }
    reap("child moved the shared offset", p);
    printf("parent sees offset: %ld\n", (long)lseek(fd, 0, SEEK_CUR));

    rep("ioctl FIOCLEX", ioctl(fd, FIOCLEX));
    printf("cloexec: %d\n", fcntl(fd, F_GETFD));
    rep("ioctl FIONCLEX", ioctl(fd, FIONCLEX));
    printf("cloexec: %d\n", fcntl(fd, F_GETFD));

    int pp[2];
    rep("pipe2 O_CLOEXEC|O_NONBLOCK", pipe2(pp, O_CLOEXEC | O_NONBLOCK));
    printf("flags: cloexec %d nonblock %d\n", fcntl(pp[0], F_GETFD), !!(fcntl(pp[1], F_GETFL) & O_NONBLOCK));
    rep_err("pipe2 bad flags", pipe2(pp, O_APPEND));
    char buf[PIPE_BUF];
    errno = 0;
    printf("read from an empty nonblocking pipe: %zd %s\n", read(pp[0], buf, 1), errname(errno));
    int sz = fcntl(pp[0], F_GETPIPE_SZ);
    printf("F_GETPIPE_SZ: %d\n", sz);
    printf("F_SETPIPE_SZ 100000 rounds up: %d\n", fcntl(pp[0], F_SETPIPE_SZ, 100000));
    write(pp[1], "12345", 5);
    int avail = 0;
    ioctl(pp[0], FIONREAD, &avail);
    printf("FIONREAD: %d\n", avail);
    read(pp[0], buf, 5);
    long filled = 0;
    ssize_t n;
    memset(buf, 'x', sizeof buf);
    /* page-sized writes: Linux fills a pipe page by page */
    while ((n = write(pp[1], buf, PIPE_BUF)) > 0) filled += n;
    printf("nonblocking writes filled %ld bytes, then %s\n", filled, errname(errno));
    read(pp[0], buf, 100);
    errno = 0;
    n = write(pp[1], buf, PIPE_BUF);
    printf("PIPE_BUF write with 100 bytes free is all-or-nothing: %zd %s\n", n, errname(errno));
    int fl = 1;
    ioctl(pp[0], FIONBIO, &fl);
    fl = 0;
    rep("ioctl FIONBIO off", ioctl(pp[1], FIONBIO, &fl));
    printf("O_NONBLOCK now: %d\n", !!(fcntl(pp[1], F_GETFL) & O_NONBLOCK));
    close(pp[0]);
    signal(SIGPIPE, SIG_IGN);
    errno = 0;
    printf("write with no reader: %zd %s\n", write(pp[1], "x", 1), errname(errno));
    signal(SIGPIPE, SIG_DFL);
    p = fork();
    if (p == 0) {
        write(pp[1], "x", 1);
        _exit(0);
    }
    reap("write with no reader, default SIGPIPE", p);
    rep_err("ioctl TCGETS on a pipe", ioctl(pp[1], 0x5401, buf));
    unlink("/tmp/fd_ops.f");
    done();
}
