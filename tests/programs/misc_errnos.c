/* Argument checks of newer and less used calls, as the syscall conformance suites probe
 * them: close_range, eventfd, fallocate, posix_fadvise, execveat, clone3 and epoll with
 * bad flags, sizes, fds and file types. Only the outcome (return value and errno) is
 * printed. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void show(const char *what, long r) {
    printf("%-44s %ld %s\n", what, r < 0 ? -1L : r, r < 0 ? strerrorname_np(errno) : "");
}

int main(void) {
    /* close_range */
    int a = dup(1), b = dup(1);
    show("close_range bad flags", syscall(SYS_close_range, a, b, 0x80));
    show("close_range first > last", syscall(SYS_close_range, b, a, 0));
    show("close_range CLOEXEC", syscall(SYS_close_range, a, b, CLOSE_RANGE_CLOEXEC));
    printf("  FD_CLOEXEC set: %d\n", fcntl(a, F_GETFD) & FD_CLOEXEC);
    show("close_range UNSHARE", syscall(SYS_close_range, a, b, CLOSE_RANGE_UNSHARE));
    printf("  closed: %d\n", fcntl(a, F_GETFD) < 0 && errno == EBADF);
    show("close_range past the table", syscall(SYS_close_range, 5000, ~0U, 0));

    /* eventfd */
    int e = eventfd(0, EFD_SEMAPHORE | EFD_NONBLOCK);
    uint64_t v = 3;
    show("eventfd write 3", write(e, &v, 8));
    show("eventfd semaphore read", read(e, &v, 8));
    printf("  value %llu\n", (unsigned long long)v);
    show("eventfd read 4 bytes", read(e, &v, 4));
    v = UINT64_MAX;
    show("eventfd write 2^64-1", write(e, &v, 8));
    show("eventfd write 4 bytes", write(e, &v, 4));
    show("eventfd bad flags", eventfd(0, 0x1234));
    close(e);

    /* fallocate and fadvise */
    int fd = open("/tmp/falloc", O_RDWR | O_CREAT | O_TRUNC, 0600);
    int ro = open("/tmp/falloc", O_RDONLY);
    int p[2];
    pipe(p);
    show("fallocate len 0", fallocate(fd, 0, 0, 0));
    show("fallocate negative offset", fallocate(fd, 0, -1, 10));
    show("fallocate read-only fd", fallocate(ro, 0, 0, 10));
    show("fallocate pipe", fallocate(p[0], 0, 0, 10));
    show("fallocate PUNCH_HOLE without KEEP_SIZE", fallocate(fd, FALLOC_FL_PUNCH_HOLE, 0, 10));
    show("fallocate bad fd", fallocate(999, 0, 0, 10));
    show("fallocate 4096", fallocate(fd, 0, 0, 4096));
    errno = posix_fadvise(fd, 0, 0, 12345);
    show("fadvise bad advice", errno ? -1 : 0);
    errno = posix_fadvise(p[0], 0, 0, POSIX_FADV_NORMAL);
    show("fadvise pipe", errno ? -1 : 0);
    errno = posix_fadvise(999, 0, 0, POSIX_FADV_NORMAL);
    show("fadvise bad fd", errno ? -1 : 0);
    errno = posix_fadvise(fd, 0, -1, POSIX_FADV_NORMAL);
    show("fadvise negative len", errno ? -1 : 0);
    errno = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    show("fadvise DONTNEED", errno ? -1 : 0);

    /* execveat */
    char *argv[] = {"true", 0};
    show("execveat bad flags", syscall(SYS_execveat, AT_FDCWD, "/bin/true", argv, 0, 0x1));
    show("execveat empty path without flag", syscall(SYS_execveat, fd, "", argv, 0, 0));
    show("execveat dir fd, missing", syscall(SYS_execveat, AT_FDCWD, "/nonexistent", argv, 0, 0));
    show("execveat a directory", syscall(SYS_execveat, AT_FDCWD, "/tmp", argv, 0, 0));
    show("execveat non-executable file", syscall(SYS_execveat, fd, "", argv, 0, AT_EMPTY_PATH));
    fflush(stdout);
    pid_t c = fork();
    if (c == 0) {
        int t = open("/bin/true", O_PATH);
        syscall(SYS_execveat, t, "", argv, 0, AT_EMPTY_PATH);
        _exit(99);
    }
    int st;
    waitpid(c, &st, 0);
    printf("execveat O_PATH fd AT_EMPTY_PATH: exit %d\n", WEXITSTATUS(st));

    /* clone3 */
    struct clone_args ca;
    memset(&ca, 0, sizeof ca);
    ca.exit_signal = SIGCHLD;
    show("clone3 size 8", syscall(SYS_clone3, &ca, 8));
    char big[8192];
    memset(big, 0, sizeof big);
    memcpy(big, &ca, sizeof ca);
    big[200] = 1;
    show("clone3 big size, nonzero tail", syscall(SYS_clone3, big, 4096));
    show("clone3 size past a page", syscall(SYS_clone3, big, 8192));
    ca.flags = CLONE_THREAD;
    show("clone3 CLONE_THREAD without VM", syscall(SYS_clone3, &ca, sizeof ca));
    ca.flags = 0;
    ca.exit_signal = 1000;
    show("clone3 bad exit_signal", syscall(SYS_clone3, &ca, sizeof ca));
    ca.exit_signal = SIGCHLD;
    ca.stack = 0x1000;
    ca.stack_size = 0;
    show("clone3 stack without size", syscall(SYS_clone3, &ca, sizeof ca));
    show("clone3 bad pointer", syscall(SYS_clone3, (void *)8, sizeof ca));

    /* epoll */
    show("epoll_create 0", epoll_create(0));
    show("epoll_create1 bad flags", epoll_create1(0x1));
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN};
    show("epoll_ctl add pipe", epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev));
    show("epoll_ctl add again", epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev));
    show("epoll_ctl add itself", epoll_ctl(ep, EPOLL_CTL_ADD, ep, &ev));
    show("epoll_ctl add regular file", epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev));
    show("epoll_ctl mod missing", epoll_ctl(ep, EPOLL_CTL_MOD, p[1], &ev));
    show("epoll_ctl del missing", epoll_ctl(ep, EPOLL_CTL_DEL, p[1], &ev));
    ev.events = EPOLLIN | EPOLLEXCLUSIVE;
    show("epoll_ctl mod EXCLUSIVE", epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev));
    show("epoll_ctl bad op", epoll_ctl(ep, 99, p[0], &ev));
    show("epoll_ctl on a non-epoll fd", epoll_ctl(p[0], EPOLL_CTL_ADD, p[1], &ev));
    show("epoll_wait maxevents 0", epoll_wait(ep, &ev, 0, 0));
    show("epoll_wait not epoll", epoll_wait(p[0], &ev, 1, 0));
    write(p[1], "x", 1);
    show("epoll_wait ready", epoll_wait(ep, &ev, 1, 0));
    unlink("/tmp/falloc");
    printf("done: ok\n");
    return 0;
}
