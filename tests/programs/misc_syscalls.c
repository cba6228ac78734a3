/* misc_syscalls.c - the less common syscalls real programs still make: the old getdents,
 * utime/utimes/futimesat, readahead, sync_file_range, mincore, mlock2,
 * sched_rr_get_interval, ioprio_get/ioprio_set, restart_syscall. Prints one checkable line
 * per case; natively and under moat the output must be equal. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <utime.h>

#define D "/tmp/misc_syscalls.d"

static const char *err(long r) {
    static char buf[64];
    if (r >= 0) {
        snprintf(buf, sizeof buf, "ok (%ld)", r);
        return buf;
    }
    switch (errno) {
    case EINVAL: return "EINVAL";
    case EBADF: return "EBADF";
    case ESPIPE: return "ESPIPE";
    case ENOMEM: return "ENOMEM";
    case ESRCH: return "ESRCH";
    case EPERM: return "EPERM";
    case EACCES: return "EACCES";
    case ENOENT: return "ENOENT";
    case EFAULT: return "EFAULT";
    case EINTR: return "EINTR";
    case ENOTDIR: return "ENOTDIR";
    default: snprintf(buf, sizeof buf, "errno %d", errno); return buf;
    }
}

struct old_dirent {
    unsigned long d_ino;
    unsigned long d_off;
    unsigned short d_reclen;
    char d_name[];
};

static void old_getdents(void) {
    int fd = open(D "/dir", O_RDONLY | O_DIRECTORY);
    char buf[512];
    long n, total = 0;
    int files = 0, dirs = 0, dots = 0, aligned = 1;
    char names[256] = "";
    /* small buffer: several calls needed */
    while ((n = syscall(SYS_getdents, fd, buf, sizeof buf)) > 0) {
        for (long off = 0; off < n;) {
            struct old_dirent *d = (struct old_dirent *)(buf + off);
            unsigned char type = (unsigned char)buf[off + d->d_reclen - 1];
            if (d->d_reclen % 8) aligned = 0;
            if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, "..")) dots++;
            else if (type == DT_REG) files++;
            else if (type == DT_DIR) dirs++;
            off += d->d_reclen;
        }
        total += n;
    }
    printf("getdents: end %s, %d dots, %d regular files, %d dirs, reclen aligned: %s\n",
           err(n), dots, files, dirs, aligned ? "yes" : "no");
    lseek(fd, 0, SEEK_SET);
    n = syscall(SYS_getdents, fd, buf, 10);
    printf("getdents into 10 bytes: %s\n", err(n));
    close(fd);
    int f = open(D "/dir/a", O_RDONLY);
    printf("getdents on a file: %s\n", err(syscall(SYS_getdents, f, buf, sizeof buf)));
    close(f);
    (void)names;
}

static void times(void) {
    const char *p = D "/t";
    struct utimbuf ub = {.actime = 1000000000, .modtime = 1100000000};
    printf("utime: %s\n", err(utime(p, &ub)));
    struct stat st;
    stat(p, &st);
    printf("  atime %ld mtime %ld\n", (long)st.st_atime, (long)st.st_mtime);
    struct timeval tv[2] = {{1200000000, 250000}, {1300000000, 500000}};
    printf("utimes: %s\n", err(utimes(p, tv)));
    stat(p, &st);
    printf("  atime %ld.%09ld mtime %ld.%09ld\n", (long)st.st_atime, st.st_atim.tv_nsec,
           (long)st.st_mtime, st.st_mtim.tv_nsec);
    struct timeval bad[2] = {{1, 1000000}, {1, 0}};
    printf("utimes with usec 1000000: %s\n", err(utimes(p, bad)));
    int dfd = open(D, O_RDONLY | O_DIRECTORY);
    struct timeval tv2[2] = {{1400000000, 0}, {1500000000, 0}};
    printf("futimesat relative to a dir fd: %s\n", err(syscall(SYS_futimesat, dfd, "t", tv2)));
    stat(p, &st);
    printf("  atime %ld mtime %ld\n", (long)st.st_atime, (long)st.st_mtime);
    printf("futimesat on a missing file: %s\n", err(syscall(SYS_futimesat, dfd, "nope", tv2)));
    time_t before = time(NULL);
    printf("utime(NULL times): %s\n", err(utime(p, NULL)));
    stat(p, &st);
    printf("  mtime is now: %s\n", st.st_mtime >= before && st.st_mtime <= time(NULL) + 1 ? "yes" : "no");
    close(dfd);
    /* permissions: a non-owner may set "now" with write access, explicit times never */
    chmod(p, 0666);
    pid_t c = fork();
    if (c == 0) {
        if (setresuid(4321, 4321, 4321) != 0) _exit(9);
        printf("  non-owner, writable, utime(NULL): %s\n", err(utime(p, NULL)));
        printf("  non-owner, explicit times: %s\n", err(utime(p, &ub)));
        chmod(p, 0644); /* fails: not the owner */
        _exit(0);
    }
    int ws;
    waitpid(c, &ws, 0);
    chmod(p, 0644);
    c = fork();
    if (c == 0) {
        if (setresuid(4321, 4321, 4321) != 0) _exit(9);
        printf("  non-owner, read-only file, utime(NULL): %s\n", err(utime(p, NULL)));
        _exit(0);
    }
    waitpid(c, &ws, 0);
    printf("permission children: %s\n", WIFEXITED(ws) && WEXITSTATUS(ws) == 0 ? "ok" : "failed");
}

static void hints(void) {
    int fd = open(D "/t", O_RDONLY);
    int wfd = open(D "/w", O_WRONLY | O_CREAT, 0644);
    int p[2];
    pipe(p);
    printf("readahead on a file: %s\n", err(syscall(SYS_readahead, fd, 0, 4096)));
    printf("readahead on a write-only fd: %s\n", err(syscall(SYS_readahead, wfd, 0, 4096)));
    printf("readahead on a pipe: %s\n", err(syscall(SYS_readahead, p[0], 0, 4096)));
    printf("readahead on a bad fd: %s\n", err(syscall(SYS_readahead, 999, 0, 4096)));
    printf("sync_file_range: %s\n", err(sync_file_range(wfd, 0, 0, SYNC_FILE_RANGE_WRITE)));
    printf("sync_file_range bad flags: %s\n", err(sync_file_range(wfd, 0, 0, 8)));
    printf("sync_file_range negative offset: %s\n", err(sync_file_range(wfd, -1, 0, 0)));
    printf("sync_file_range on a pipe: %s\n", err(sync_file_range(p[1], 0, 0, 0)));
    close(fd);
    close(wfd);
    close(p[0]);
    close(p[1]);
}

static void memory(void) {
    long pg = sysconf(_SC_PAGESIZE);
    char *m = mmap(NULL, 4 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    for (int i = 0; i < 4; i++) m[i * pg] = 1;
    unsigned char vec[4] = {0};
    printf("mincore of touched pages: %s", err(mincore(m, 4 * pg, vec)));
    printf(" resident:");
    for (int i = 0; i < 4; i++) printf(" %d", vec[i] & 1);
    printf("\n");
    printf("mincore unaligned: %s\n", err(mincore(m + 1, pg, vec)));
    munmap(m + 2 * pg, pg);
    printf("mincore over a hole: %s\n", err(mincore(m, 4 * pg, vec)));
    printf("mincore with a bad vector: %s\n", err(mincore(m, pg, (unsigned char *)8)));
    printf("mlock2: %s\n", err(syscall(SYS_mlock2, m, pg, 0)));
    printf("mlock2 MLOCK_ONFAULT: %s\n", err(syscall(SYS_mlock2, m, pg, 1)));
    printf("mlock2 bad flags: %s\n", err(syscall(SYS_mlock2, m, pg, 2)));
    munlock(m, pg);
}

static void sched(void) {
    struct timespec ts = {7, 7};
    printf("sched_rr_get_interval self: %s\n", err(sched_rr_get_interval(0, &ts)));
    printf("sched_rr_get_interval missing pid: %s\n", err(sched_rr_get_interval(99999, &ts)));
    printf("sched_rr_get_interval negative pid: %s\n", err(sched_rr_get_interval(-1, &ts)));
    printf("sched_rr_get_interval bad pointer: %s\n", err(sched_rr_get_interval(0, (void *)8)));
    long def = syscall(SYS_ioprio_get, 1, 0);
    printf("ioprio_get default: %s\n", err(def));
    long be4 = (2 << 13) | 4;
    printf("ioprio_set best-effort 4: %s\n", err(syscall(SYS_ioprio_set, 1, 0, be4)));
    printf("ioprio_get: %ld (class %ld, data %ld)\n", syscall(SYS_ioprio_get, 1, 0),
           syscall(SYS_ioprio_get, 1, 0) >> 13, syscall(SYS_ioprio_get, 1, 0) & 0x1fff);
    pid_t c = fork();
    if (c == 0) {
        printf("  child inherits: %ld\n", syscall(SYS_ioprio_get, 1, 0));
        _exit(0);
    }
    waitpid(c, NULL, 0);
    printf("ioprio_get of the process group: %ld\n", syscall(SYS_ioprio_get, 2, 0));
    printf("ioprio_set bad class: %s\n", err(syscall(SYS_ioprio_set, 1, 0, 7 << 13)));
    printf("ioprio_get bad which: %s\n", err(syscall(SYS_ioprio_get, 9, 0)));
    printf("ioprio_get missing pid: %s\n", err(syscall(SYS_ioprio_get, 1, 99999)));
    printf("ioprio_set idle: %s\n", err(syscall(SYS_ioprio_set, 1, 0, 3 << 13)));
    printf("ioprio_get: %ld\n", syscall(SYS_ioprio_get, 1, 0));
    printf("restart_syscall with nothing to restart: %s\n", err(syscall(SYS_restart_syscall)));
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    mkdir(D, 0755);
    mkdir(D "/dir", 0755);
    mkdir(D "/dir/sub", 0755);
    for (int i = 0; i < 20; i++) {
        char p[128];
        snprintf(p, sizeof p, D "/dir/%c%s", 'a' + i, i % 2 ? "-with-a-longer-name" : "");
        close(open(p, O_WRONLY | O_CREAT, 0644));
    }
    close(open(D "/t", O_WRONLY | O_CREAT, 0644));
    old_getdents();
    times();
    hints();
    memory();
    sched();
    /* clean up */
    for (int i = 0; i < 20; i++) {
        char p[128];
        snprintf(p, sizeof p, D "/dir/%c%s", 'a' + i, i % 2 ? "-with-a-longer-name" : "");
        unlink(p);
    }
    rmdir(D "/dir/sub");
    rmdir(D "/dir");
    unlink(D "/t");
    unlink(D "/w");
    rmdir(D);
    printf("done: ok\n");
    return 0;
}
