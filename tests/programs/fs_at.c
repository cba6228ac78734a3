/* The *at family relative to directory fds and AT_FDCWD: openat, mkdirat, unlinkat
 * (AT_REMOVEDIR), renameat2 (NOREPLACE, EXCHANGE, bad combinations), linkat (AT_SYMLINK_FOLLOW,
 * AT_EMPTY_PATH), symlinkat/readlinkat (truncation, EINVAL), fchmodat, fchownat
 * (AT_SYMLINK_NOFOLLOW), utimensat (UTIME_NOW/UTIME_OMIT, exact times, symlinks),
 * faccessat/faccessat2 (AT_EACCESS, AT_SYMLINK_NOFOLLOW), newfstatat and statx; the errors
 * common code depends on (ENOENT, EEXIST, ENOTDIR, EISDIR, ENOTEMPTY, ELOOP, ENAMETOOLONG). */
#include "moat_test.h"
#include <fcntl.h>
#include <linux/stat.h>
#include <sys/syscall.h>

static char dir[64];

static void stat_line(int dfd, const char *name, int flags) {
    struct stat st;
    if (fstatat(dfd, name, &st, flags) < 0) {
        printf("  stat %s: %s\n", name, errname(errno));
        return;
    }
    const char *t = S_ISREG(st.st_mode) ? "file" : S_ISDIR(st.st_mode) ? "dir" : S_ISLNK(st.st_mode) ? "link" : "other";
    printf("  stat %s: %s mode=%04o nlink=%lu uid=%u gid=%u size=%ld\n", name, t, st.st_mode & 07777,
           (unsigned long)st.st_nlink, st.st_uid, st.st_gid, S_ISDIR(st.st_mode) ? 0L : (long)st.st_size);
}

int main(void) {
    setup();
    umask(022);
    scratch("fs_at", dir, sizeof dir);
    int d = open(dir, O_RDONLY | O_DIRECTORY);
    int fd = openat(d, "a", O_WRONLY | O_CREAT | O_EXCL, 0640);
    write(fd, "hello", 5);
    close(fd);
    rep_err("openat O_EXCL on an existing file", openat(d, "a", O_WRONLY | O_CREAT | O_EXCL, 0640));
    rep("mkdirat", mkdirat(d, "sub", 0750));
    rep_err("mkdirat existing", mkdirat(d, "sub", 0750));
    rep_err("mkdirat under a file", mkdirat(d, "a/x", 0750));
    rep_err("openat with a file as dirfd", openat(open("/etc/passwd", O_RDONLY), "x", O_RDONLY));
    rep_err("openat with a bad dirfd", openat(999, "x", O_RDONLY));
    rep("openat absolute path ignores dirfd", openat(999, "/etc/passwd", O_RDONLY));
    stat_line(d, "a", 0);
    stat_line(d, "sub", 0);

    rep("symlinkat", symlinkat("a", d, "lnk"));
    rep("symlinkat dangling", symlinkat("nowhere", d, "dangle"));
    char buf[64];
    ssize_t n = readlinkat(d, "lnk", buf, sizeof buf);
    printf("readlinkat: %.*s (%zd)\n", (int)n, buf, n);
    n = readlinkat(d, "dangle", buf, 3);
    printf("readlinkat truncated: %.*s (%zd)\n", (int)n, buf, n);
    rep_err("readlinkat of a file", readlinkat(d, "a", buf, sizeof buf));
    stat_line(d, "lnk", 0);
    stat_line(d, "lnk", AT_SYMLINK_NOFOLLOW);
    stat_line(d, "dangle", 0);
    symlinkat("loop2", d, "loop1");
    symlinkat("loop1", d, "loop2");
    rep_err("open a symlink loop", openat(d, "loop1", O_RDONLY));
    rep_err("O_NOFOLLOW on a symlink", openat(d, "lnk", O_RDONLY | O_NOFOLLOW));

    rep("linkat", linkat(d, "a", d, "hard", 0));
    stat_line(d, "a", 0);
    rep("linkat of a symlink (no follow): links the link", linkat(d, "lnk", d, "lnk2", 0));
    stat_line(d, "lnk2", AT_SYMLINK_NOFOLLOW);
    rep("linkat AT_SYMLINK_FOLLOW", linkat(d, "lnk", d, "hard2", AT_SYMLINK_FOLLOW));
    stat_line(d, "hard2", AT_SYMLINK_NOFOLLOW);
    rep_err("linkat to an existing name", linkat(d, "a", d, "hard", 0));
    rep_err("linkat of a directory", linkat(d, "sub", d, "sub2", 0));
    int afd = openat(d, "a", O_RDONLY);
    rep("linkat AT_EMPTY_PATH", linkat(afd, "", d, "viafd", AT_EMPTY_PATH));
    stat_line(d, "a", 0);

    rep("renameat2 plain", syscall(SYS_renameat2, d, "hard2", d, "moved", 0));
    rep_err("renameat2 NOREPLACE onto an existing file", syscall(SYS_renameat2, d, "moved", d, "a", RENAME_NOREPLACE));
    rep("renameat2 NOREPLACE to a new name", syscall(SYS_renameat2, d, "moved", d, "moved2", RENAME_NOREPLACE));
    int f2 = openat(d, "other", O_WRONLY | O_CREAT, 0600);
    write(f2, "xy", 2);
    close(f2);
    rep("renameat2 EXCHANGE", syscall(SYS_renameat2, d, "other", d, "sub", RENAME_EXCHANGE));
    stat_line(d, "other", 0);
    stat_line(d, "sub", 0);
    syscall(SYS_renameat2, d, "other", d, "sub", RENAME_EXCHANGE);
    rep_err("renameat2 EXCHANGE with a missing name", syscall(SYS_renameat2, d, "nope", d, "sub", RENAME_EXCHANGE));
    rep_err("renameat2 NOREPLACE|EXCHANGE", syscall(SYS_renameat2, d, "a", d, "sub", RENAME_NOREPLACE | RENAME_EXCHANGE));
    rep_err("renameat2 unknown flag", syscall(SYS_renameat2, d, "a", d, "b", 1 << 5));
    rep_err("rename a file over a directory", renameat(d, "a", d, "sub"));
    rep_err("rename a directory over a file", renameat(d, "sub", d, "a"));
    rep_err("rename a directory into itself", renameat(d, "sub", d, "sub/inner"));
    mkdirat(d, "full", 0755);
    close(openat(d, "full/f", O_CREAT | O_WRONLY, 0644));
    mkdirat(d, "empty", 0755);
    rep_err("rename a directory over a non-empty one", renameat(d, "empty", d, "full"));
    rep("rename a directory over an empty one", renameat(d, "sub", d, "empty"));
    rep("rename to itself", renameat(d, "a", d, "a"));
    rep("rename hard links of the same file", renameat(d, "a", d, "hard"));
    stat_line(d, "a", 0);

    rep_err("unlinkat a directory without AT_REMOVEDIR", unlinkat(d, "full", 0));
    rep_err("unlinkat AT_REMOVEDIR non-empty", unlinkat(d, "full", AT_REMOVEDIR));
    rep_err("unlinkat AT_REMOVEDIR on a file", unlinkat(d, "a", AT_REMOVEDIR));
    rep("unlinkat file", unlinkat(d, "full/f", 0));
    rep("unlinkat AT_REMOVEDIR", unlinkat(d, "full", AT_REMOVEDIR));
    rep_err("unlinkat missing", unlinkat(d, "full", AT_REMOVEDIR));
    rep_err("unlinkat bad flag", unlinkat(d, "a", 0x1));

    rep("fchmodat", fchmodat(d, "a", 0604, 0));
    stat_line(d, "a", 0);
    rep_err("fchmodat AT_SYMLINK_NOFOLLOW on a link", fchmodat(d, "lnk", 0600, AT_SYMLINK_NOFOLLOW));
    rep("fchownat", fchownat(d, "a", 123, 456, 0));
    stat_line(d, "a", 0);
    rep("fchownat AT_SYMLINK_NOFOLLOW (the link itself)", fchownat(d, "lnk", 7, 8, AT_SYMLINK_NOFOLLOW));
    stat_line(d, "lnk", AT_SYMLINK_NOFOLLOW);
    stat_line(d, "a", 0);
    rep("fchownat -1 keeps", fchownat(d, "a", -1, 9, 0));
    stat_line(d, "a", 0);
    fchownat(d, "a", 0, 0, 0);

    struct timespec ts[2] = {{1000000000, 123456789}, {1200000000, 987654321}};
    rep("utimensat exact", utimensat(d, "a", ts, 0));
    struct stat st;
    fstatat(d, "a", &st, 0);
    printf("  atime=%ld.%09ld mtime=%ld.%09ld\n", (long)st.st_atim.tv_sec, st.st_atim.tv_nsec, (long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    struct timespec omit[2] = {{0, UTIME_OMIT}, {0, UTIME_NOW}};
    rep("utimensat OMIT/NOW", utimensat(d, "a", omit, 0));
    fstatat(d, "a", &st, 0);
    printf("  atime kept: %s, mtime now: %s\n", st.st_atim.tv_sec == 1000000000 ? "yes" : "no", st.st_mtim.tv_sec > 1600000000 ? "yes" : "no");
    rep("utimensat on the link itself", utimensat(d, "lnk", ts, AT_SYMLINK_NOFOLLOW));
    fstatat(d, "lnk", &st, AT_SYMLINK_NOFOLLOW);
    printf("  link mtime=%ld\n", (long)st.st_mtim.tv_sec);
    struct timespec badts[2] = {{0, 1000000000}, {0, 0}};
    rep_err("utimensat bad nsec", utimensat(d, "a", badts, 0));
    rep("futimens", futimens(afd, ts));
    rep("utimensat(fd, NULL) == futimens", syscall(SYS_utimensat, afd, NULL, ts, 0));

    rep("faccessat R_OK", faccessat(d, "a", R_OK, 0));
    rep_err("faccessat X_OK on 0604 file (root, no x bit)", faccessat(d, "a", X_OK, 0));
    rep("faccessat2 AT_EACCESS", syscall(SYS_faccessat2, d, "a", R_OK | W_OK, AT_EACCESS));
    rep("faccessat2 AT_SYMLINK_NOFOLLOW on a dangling link", syscall(SYS_faccessat2, d, "dangle", F_OK, AT_SYMLINK_NOFOLLOW));
    rep_err("faccessat on a dangling link", faccessat(d, "dangle", F_OK, 0));
    rep_err("faccessat2 bad flags", syscall(SYS_faccessat2, d, "a", R_OK, 0x8000));
    rep_err("faccessat bad mode", faccessat(d, "a", 0100, 0));

    struct statx sx;
    memset(&sx, 0, sizeof sx);
    rep("statx", syscall(SYS_statx, d, "a", 0, STATX_BASIC_STATS, &sx));
    printf("  statx mask has BASIC: %s mode=%04o nlink=%u size=%llu uid=%u\n", (sx.stx_mask & STATX_BASIC_STATS) == STATX_BASIC_STATS ? "yes" : "no",
           sx.stx_mode & 07777, sx.stx_nlink, (unsigned long long)sx.stx_size, sx.stx_uid);
    fstatat(d, "a", &st, 0);
    printf("  statx agrees with fstatat: %s\n", sx.stx_ino == st.st_ino && sx.stx_mtime.tv_sec == st.st_mtim.tv_sec ? "yes" : "no");
    rep("statx AT_EMPTY_PATH on an fd", syscall(SYS_statx, afd, "", AT_EMPTY_PATH, STATX_SIZE, &sx));
    printf("  size via fd: %llu\n", (unsigned long long)sx.stx_size);
    rep("statx AT_SYMLINK_NOFOLLOW", syscall(SYS_statx, d, "lnk", AT_SYMLINK_NOFOLLOW, STATX_TYPE, &sx));
    printf("  is a link: %s\n", S_ISLNK(sx.stx_mode) ? "yes" : "no");
    rep_err("statx reserved mask bit", syscall(SYS_statx, d, "a", 0, STATX__RESERVED, &sx));
    rep_err("statx bad flags", syscall(SYS_statx, d, "a", 0x40000000, STATX_BASIC_STATS, &sx));
    rep_err("newfstatat empty path without AT_EMPTY_PATH", fstatat(d, "", &st, 0));
    rep("newfstatat AT_EMPTY_PATH", fstatat(afd, "", &st, AT_EMPTY_PATH));

    char longname[300];
    memset(longname, 'n', 299);
    longname[299] = 0;
    rep_err("name longer than 255", openat(d, longname, O_RDONLY | O_CREAT, 0644));
    rep_err("ENOTDIR in the middle", openat(d, "a/b", O_RDONLY));
    rep_err("EISDIR opening a dir for writing", openat(d, "empty", O_WRONLY));
    rep_err("ENOENT", openat(d, "missing/x", O_RDONLY));
    rep_err("empty path", openat(d, "", O_RDONLY));
    close(afd);
    scratch_done(dir);
    done();
}
