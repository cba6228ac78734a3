/* open(2) flags: O_TMPFILE (unnamed, linkable through /proc/self/fd unless O_EXCL), O_APPEND,
 * O_CLOEXEC, O_NONBLOCK, O_DIRECTORY, O_EXCL (also with symlinks), O_NOFOLLOW, O_PATH (what works
 * on it and what does not), O_TRUNC, O_CREAT modes, O_NOATIME/O_DIRECT acceptance, access modes,
 * F_GETFL/F_SETFL reporting, /proc/self/fd links. */
#include "moat_test.h"
#include <fcntl.h>
#include <sys/syscall.h>

static char dir[64];

static void fl(const char *what, int fd) {
    int f = fcntl(fd, F_GETFL);
    printf("%s: acc=%s%s%s%s\n", what, (f & O_ACCMODE) == O_RDONLY ? "RDONLY" : (f & O_ACCMODE) == O_WRONLY ? "WRONLY" : "RDWR",
           f & O_APPEND ? " APPEND" : "", f & O_NONBLOCK ? " NONBLOCK" : "", f & O_LARGEFILE ? " LARGEFILE" : "");
}

int main(void) {
    setup();
    scratch("fs_open_flags", dir, sizeof dir);
    chdir(dir);

    int t = open(".", O_TMPFILE | O_RDWR, 0600);
    rep("O_TMPFILE", t);
    write(t, "tmpdata", 7);
    struct stat st;
    fstat(t, &st);
    printf("O_TMPFILE nlink=%lu size=%ld mode=%04o\n", (unsigned long)st.st_nlink, (long)st.st_size, st.st_mode & 07777);
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", t);
    char target[256] = {0};
    readlink(proc, target, sizeof target - 1);
    printf("its /proc/self/fd link ends with (deleted): %s\n", strstr(target, "(deleted)") ? "yes" : "no");
    rep("linkat via /proc/self/fd (AT_SYMLINK_FOLLOW)", linkat(AT_FDCWD, proc, AT_FDCWD, "named", AT_SYMLINK_FOLLOW));
    fstat(t, &st);
    printf("now nlink=%lu\n", (unsigned long)st.st_nlink);
    char buf[64] = {0};
    int nfd = open("named", O_RDONLY);
    read(nfd, buf, sizeof buf);
    printf("named file content: %s\n", buf);
    int tx = open(".", O_TMPFILE | O_RDWR | O_EXCL, 0600);
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", tx);
    rep_err("linkat of an O_TMPFILE|O_EXCL file", linkat(AT_FDCWD, proc, AT_FDCWD, "named2", AT_SYMLINK_FOLLOW));
    rep_err("O_TMPFILE read-only", open(".", O_TMPFILE | O_RDONLY, 0600));
    rep_err("O_TMPFILE on a file", open("named", O_TMPFILE | O_RDWR, 0600));

    int a = open("app", O_WRONLY | O_CREAT | O_APPEND, 0644);
    fl("O_WRONLY|O_APPEND", a);
    int c = open("app", O_RDONLY | O_CLOEXEC);
    printf("O_CLOEXEC sets FD_CLOEXEC: %d\n", fcntl(c, F_GETFD) & FD_CLOEXEC);
    fcntl(c, F_SETFD, 0);
    printf("cleared: %d\n", fcntl(c, F_GETFD) & FD_CLOEXEC);
    int nb = open("app", O_RDWR | O_NONBLOCK);
    fl("O_RDWR|O_NONBLOCK", nb);
    fcntl(nb, F_SETFL, O_APPEND);
    fl("after F_SETFL O_APPEND", nb);
    fcntl(nb, F_SETFL, O_RDONLY | O_NONBLOCK);
    fl("F_SETFL cannot change the access mode", nb);

    rep("O_DIRECTORY on a directory", open(".", O_RDONLY | O_DIRECTORY));
    rep_err("O_DIRECTORY on a file", open("app", O_RDONLY | O_DIRECTORY));
    rep_err("O_EXCL on an existing file", open("app", O_CREAT | O_EXCL | O_WRONLY, 0644));
    symlink("dangling-target", "dl");
    rep_err("O_CREAT|O_EXCL on a dangling symlink", open("dl", O_CREAT | O_EXCL | O_WRONLY, 0644));
    rep("O_CREAT through a dangling symlink creates the target", open("dl", O_CREAT | O_WRONLY, 0644));
    printf("target exists: %s\n", access("dangling-target", F_OK) == 0 ? "yes" : "no");
    symlink("app", "sl");
    rep_err("O_NOFOLLOW on a symlink", open("sl", O_RDONLY | O_NOFOLLOW));
    rep("O_NOFOLLOW|O_PATH on a symlink", open("sl", O_PATH | O_NOFOLLOW));

    int pfd = open("app", O_PATH);
    rep("fstat on O_PATH", fstat(pfd, &st));
    rep_err("read on O_PATH", read(pfd, buf, 1));
    rep_err("write on O_PATH", write(pfd, "x", 1));
    rep_err("fchmod on O_PATH", fchmod(pfd, 0600));
    rep("fstatat AT_EMPTY_PATH on O_PATH", fstatat(pfd, "", &st, AT_EMPTY_PATH));
    fl("O_PATH F_GETFL", pfd);
    rep("dup of O_PATH", dup(pfd));
    int dpath = open(".", O_PATH | O_DIRECTORY);
    rep("openat relative to an O_PATH dir", openat(dpath, "app", O_RDONLY));

    write(a, "0123456789", 10);
    int tr = open("app", O_WRONLY | O_TRUNC);
    fstat(tr, &st);
    printf("O_TRUNC size: %ld\n", (long)st.st_size);
    umask(0);
    close(open("m644", O_CREAT | O_WRONLY, 0644));
    close(open("m4755", O_CREAT | O_WRONLY, 04755));
    stat("m644", &st);
    printf("O_CREAT 0644: %04o\n", st.st_mode & 07777);
    stat("m4755", &st);
    printf("O_CREAT 04755: %04o\n", st.st_mode & 07777);
    umask(022);
    rep("O_NOATIME (owner)", open("app", O_RDONLY | O_NOATIME));
    rep_err("access mode 3 (ioctl only) on a regular file", syscall(SYS_openat, AT_FDCWD, "app", 3 | O_WRONLY));
    rep_err("open a directory O_RDWR", open(".", O_RDWR));
    rep_err("O_WRONLY on a directory with O_CREAT", open(".", O_WRONLY | O_CREAT, 0644));

    // /proc/self/fd
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", a);
    memset(target, 0, sizeof target);
    readlink(proc, target, sizeof target - 1);
    printf("/proc/self/fd link: %s\n", target);
    int re = open(proc, O_RDONLY);
    rep("reopen through /proc/self/fd", re);
    int pp[2];
    pipe(pp);
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", pp[0]);
    memset(target, 0, sizeof target);
    readlink(proc, target, sizeof target - 1);
    printf("pipe link looks like pipe:[N]: %s\n", strncmp(target, "pipe:[", 6) == 0 ? "yes" : "no");
    chdir("/");
    scratch_done(dir);
    done();
}
