/* File locks between processes: flock (shared/exclusive, LOCK_NB -> EWOULDBLOCK, conversion,
 * inherited by fork through the shared open file description, released on last close, a
 * blocked LOCK_EX woken by the unlock), fcntl record locks (F_SETLK conflicts, F_GETLK reports
 * the holder's range and pid, byte ranges that do not overlap, F_SETLKW waits, a close of any fd
 * of the file drops the process's locks), open file description locks (F_OFD_SETLK). */
#include "moat_test.h"
#include <fcntl.h>
#include <sys/file.h>

static char path[] = "/tmp/fs_locks.file";

static int try_in_child(int (*fn)(int)) {
    pid_t p = fork();
    if (p == 0) {
        int fd = open(path, O_RDWR);
        _exit(fn(fd));
    }
    int st;
    waitpid(p, &st, 0);
    return WEXITSTATUS(st);
}
static int flock_ex_nb(int fd) { return flock(fd, LOCK_EX | LOCK_NB) == 0 ? 0 : errno == EWOULDBLOCK ? 1 : 2; }
static int flock_sh_nb(int fd) { return flock(fd, LOCK_SH | LOCK_NB) == 0 ? 0 : errno == EWOULDBLOCK ? 1 : 2; }
static int setlk_0_10(int fd) {
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 10};
    return fcntl(fd, F_SETLK, &fl) == 0 ? 0 : (errno == EAGAIN || errno == EACCES) ? 1 : 2;
}
static int setlk_20_10(int fd) {
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 20, .l_len = 10};
    return fcntl(fd, F_SETLK, &fl) == 0 ? 0 : (errno == EAGAIN || errno == EACCES) ? 1 : 2;
}
static int rdlk_0_10(int fd) {
    struct flock fl = {.l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 10};
    return fcntl(fd, F_SETLK, &fl) == 0 ? 0 : (errno == EAGAIN || errno == EACCES) ? 1 : 2;
}
static pid_t parent;
static int getlk(int fd) {
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 5, .l_len = 1};
    if (fcntl(fd, F_GETLK, &fl) < 0) return 9;
    if (fl.l_type == F_UNLCK) return 0;
    return (fl.l_type == F_WRLCK ? 1 : 2) + (fl.l_start == 0 ? 10 : 0) + (fl.l_len == 10 ? 20 : 0) + (fl.l_pid == parent ? 40 : 0);
}
static int ofd_0_10(int fd) {
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 10};
    return fcntl(fd, F_OFD_SETLK, &fl) == 0 ? 0 : (errno == EAGAIN || errno == EACCES) ? 1 : 2;
}

int main(void) {
    setup();
    parent = getpid();
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    write(fd, "0123456789012345678901234567890123456789", 40);

    // flock.
    rep("flock LOCK_EX", flock(fd, LOCK_EX));
    printf("other process LOCK_EX|LOCK_NB (1 = EWOULDBLOCK): %d\n", try_in_child(flock_ex_nb));
    printf("other process LOCK_SH|LOCK_NB: %d\n", try_in_child(flock_sh_nb));
    rep("convert to LOCK_SH", flock(fd, LOCK_SH));
    printf("other process LOCK_SH|LOCK_NB now: %d\n", try_in_child(flock_sh_nb));
    printf("other process LOCK_EX|LOCK_NB now: %d\n", try_in_child(flock_ex_nb));
    rep("LOCK_UN", flock(fd, LOCK_UN));
    printf("other process LOCK_EX|LOCK_NB after unlock: %d\n", try_in_child(flock_ex_nb));
    flock(fd, LOCK_EX);
    pid_t p = fork();
    if (p == 0) {
        /* same open file description: the lock is ours too */
        _exit(flock(fd, LOCK_EX | LOCK_NB) == 0 ? 0 : 1);
    }
    reap("forked child re-locks the inherited description (0)", p);
    int fd2 = dup(fd);
    close(fd);
    printf("lock survives closing one of two dups: %d\n", try_in_child(flock_ex_nb));
    fd = fd2;
    int ready[2];
    pipe(ready);
    p = fork();
    if (p == 0) {
        int f = open(path, O_RDWR);
        write(ready[1], "r", 1);
        long t0 = now_ms(CLOCK_MONOTONIC);
        flock(f, LOCK_EX); /* blocks until the parent unlocks */
        _exit(now_ms(CLOCK_MONOTONIC) - t0 >= 80 ? 0 : 1);
    }
    char c;
    read(ready[0], &c, 1);
    sleep_ms(100);
    flock(fd, LOCK_UN);
    reap("blocked LOCK_EX woken by the unlock (0)", p);
    rep_err("flock bad operation", flock(fd, 0));

    // fcntl record locks.
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 10};
    rep("F_SETLK write lock on bytes 0-9", fcntl(fd, F_SETLK, &fl));
    printf("other process F_SETLK on 0-9 (1 = conflict): %d\n", try_in_child(setlk_0_10));
    printf("other process F_SETLK on 20-29: %d\n", try_in_child(setlk_20_10));
    printf("other process read lock on 0-9: %d\n", try_in_child(rdlk_0_10));
    printf("F_GETLK from another process (1+10+20+40 = write, start 0, len 10, our pid): %d\n", try_in_child(getlk));
    struct flock q = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 10};
    fcntl(fd, F_GETLK, &q);
    printf("F_GETLK by the owner sees no conflict: %s\n", q.l_type == F_UNLCK ? "yes" : "no");
    fl.l_type = F_RDLCK;
    rep("downgrade to a read lock", fcntl(fd, F_SETLK, &fl));
    printf("other process read lock now: %d\n", try_in_child(rdlk_0_10));
    printf("other process write lock now: %d\n", try_in_child(setlk_0_10));
    int fd3 = open(path, O_RDONLY);
    close(fd3); /* POSIX: closing any fd of the file drops all our record locks */
    printf("after closing another fd of the file, other process write lock: %d\n", try_in_child(setlk_0_10));

    fl.l_type = F_WRLCK;
    fcntl(fd, F_SETLK, &fl);
    p = fork();
    if (p == 0) {
        int f = open(path, O_RDWR);
        struct flock w = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 10};
        write(ready[1], "r", 1);
        long t0 = now_ms(CLOCK_MONOTONIC);
        int r = fcntl(f, F_SETLKW, &w);
        _exit(r == 0 && now_ms(CLOCK_MONOTONIC) - t0 >= 80 ? 0 : 1);
    }
    read(ready[0], &c, 1);
    sleep_ms(100);
    fl.l_type = F_UNLCK;
    fcntl(fd, F_SETLK, &fl);
    reap("F_SETLKW waiter woken by the unlock (0)", p);
    struct flock badl = {.l_type = 99, .l_whence = SEEK_SET};
    rep_err("F_SETLK bad type", fcntl(fd, F_SETLK, &badl));
    int rofd = open(path, O_RDONLY);
    struct flock wl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};
    rep_err("write lock on an O_RDONLY fd", fcntl(rofd, F_SETLK, &wl));

    // OFD locks belong to the open file description.
    struct flock ofd = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 10, .l_pid = 0};
    rep("F_OFD_SETLK", fcntl(fd, F_OFD_SETLK, &ofd));
    printf("other process OFD lock (1 = conflict): %d\n", try_in_child(ofd_0_10));
    int other = open(path, O_RDWR);
    rep_err("a second description in the same process conflicts", fcntl(other, F_OFD_SETLK, &ofd));
    ofd.l_pid = 1;
    rep_err("F_OFD_SETLK with l_pid != 0", fcntl(fd, F_OFD_SETLK, &ofd));
    unlink(path);
    done();
}
