// flock and fcntl record locks between a parent and a child: conflicts, F_GETLK reports,
// blocking waits released by unlock and by close, shared vs exclusive.
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>
#include <errno.h>

static int setlk(int fd, int cmd, short type, off_t start, off_t len) {
    struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len};
    return fcntl(fd, cmd, &fl);
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    int fd = open("/tmp/locks.dat", O_CREAT | O_RDWR | O_TRUNC, 0644);
    if (fd < 0 || ftruncate(fd, 4096) != 0) return 1;
    printf("parent write-locks 0-100: %d\n", setlk(fd, F_SETLK, F_WRLCK, 0, 100));
    int p[2];
    pipe(p);
    pid_t parent = getpid();
    pid_t c = fork();
    if (c == 0) {
        int cfd = open("/tmp/locks.dat", O_RDWR);
        errno = 0;
        int r = setlk(cfd, F_SETLK, F_RDLCK, 50, 10);
        printf("child read-lock 50-60: %d %s\n", r, errno == EAGAIN || errno == EACCES ? "busy" : "?");
        struct flock q = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 10};
        fcntl(cfd, F_GETLK, &q);
        printf("F_GETLK: type=%s pid_is_parent=%d start=%ld len=%ld\n", q.l_type == F_WRLCK ? "W" : "other",
               q.l_pid == parent, (long)q.l_start, (long)q.l_len);
        printf("child lock 200-300 free: %d\n", setlk(cfd, F_SETLK, F_WRLCK, 200, 100));
        write(p[1], "x", 1);
        printf("child waits for 0-100: %d\n", setlk(cfd, F_SETLKW, F_WRLCK, 0, 100));
        int ffd = open("/tmp/locks.dat", O_RDWR);
        errno = 0;
        printf("child flock LOCK_EX|LOCK_NB busy: %d %d\n", flock(ffd, LOCK_EX | LOCK_NB), errno == EWOULDBLOCK);
        write(p[1], "y", 1);
        printf("child flock LOCK_EX waits: %d\n", flock(ffd, LOCK_EX));
        _exit(0);
    }
    char ch;
    read(p[0], &ch, 1);
    int ffd = open("/tmp/locks.dat", O_RDWR);
    printf("parent flock LOCK_SH: %d\n", flock(ffd, LOCK_SH));
    usleep(100000);
    fflush(stdout);
    close(fd); // drops the parent's record locks
    read(p[0], &ch, 1);
    usleep(100000);
    /* print before unlocking: the child prints as soon as it gets the lock */
    printf("parent unlocks flock\n");
    fflush(stdout);
    if (flock(ffd, LOCK_UN) != 0) printf("flock LOCK_UN failed\n");
    int st;
    waitpid(c, &st, 0);
    printf("child exit %d\n", WEXITSTATUS(st));
    printf("done: ok\n");
    return 0;
}
