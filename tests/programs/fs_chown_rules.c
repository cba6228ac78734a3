/* Ownership and the set-ID bits as Linux handles them: chown by root and by the owner
 * (only to its own groups; never another uid), chown/fchown/lchown clearing S_ISUID and
 * S_ISGID (the latter only with group-execute), chmod by a non-member dropping S_ISGID, a
 * write by another user clearing the set-ID bits, and files and directories created in a
 * set-group-ID directory (group inherited; directories keep the bit). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void st(const char *what, long r, const char *path) {
    struct stat s;
    lstat(path, &s);
    printf("%-40s %2ld %-7s mode %05o owner %u:%u\n", what, r, r < 0 ? strerrorname_np(errno) : "",
           s.st_mode & 07777, s.st_uid, s.st_gid);
}

static void mk(const char *path, mode_t mode, uid_t u, gid_t g) {
    unlink(path);
    int fd = open(path, O_CREAT | O_WRONLY, 0600);
    close(fd);
    chown(path, u, g);
    chmod(path, mode);
}

int main(void) {
    mkdir("/tmp/own", 0777);
    chmod("/tmp/own", 0777);
    const char *f = "/tmp/own/f";

    mk(f, 06755, 0, 0);
    st("root chown 1000:1000 of 6755", chown(f, 1000, 1000), f);
    mk(f, 06745, 0, 0);
    st("root chown of 6745 (no g+x)", chown(f, 1000, 1000), f);
    mk(f, 06755, 0, 0);
    st("root chown -1:-1", chown(f, -1, -1), f);
    mk(f, 04755, 0, 0);
    int fd = open(f, O_RDONLY);
    st("fchown 0:100", fchown(fd, 0, 100), f);
    close(fd);
    mkdir("/tmp/own/d", 0755);
    chmod("/tmp/own/d", 06755);
    st("chown of a dir keeps set-ID bits", chown("/tmp/own/d", 1000, 1000), "/tmp/own/d");
    symlink("f", "/tmp/own/l");
    st("lchown symlink", lchown("/tmp/own/l", 1000, 1000), "/tmp/own/l");

    fflush(stdout);
    if (fork() == 0) {
        gid_t groups[] = {2000};
        setgroups(1, groups);
        setresgid(1000, 1000, 1000);
        setresuid(1000, 1000, 1000);
        mk(f, 02775, 1000, 1000);
        st("owner chown to its supplementary group", chown(f, -1, 2000), f);
        st("owner chown to a group not its own", chown(f, -1, 3000), f);
        st("owner chown to another uid", chown(f, 0, -1), f);
        st("owner chown to itself", chown(f, 1000, -1), f);
        mk(f, 0644, 1000, 1000);
        st("chmod g+s, own group", chmod(f, 02755), f);
        chown(f, -1, 2000);
        st("chmod g+s, supplementary group", chmod(f, 02755), f);
        st("chmod u+s", chmod(f, 04755), f);
        fflush(stdout);
        _exit(0);
    }
    wait(0);
    /* a root-owned 3000-group file chmod'ed by its owner that is not in the group */
    mk(f, 0644, 1000, 3000);
    fflush(stdout);
    if (fork() == 0) {
        setresgid(1000, 1000, 1000);
        setgroups(0, 0);
        setresuid(1000, 1000, 1000);
        st("chmod g+s, not in the group", chmod(f, 02755), f);
        fflush(stdout);
        _exit(0);
    }
    wait(0);
    mk(f, 06777, 0, 0);
    fflush(stdout);
    if (fork() == 0) {
        setresgid(1000, 1000, 1000);
        setresuid(1000, 1000, 1000);
        int fd = open(f, O_WRONLY);
        long r = write(fd, "x", 1);
        close(fd);
        st("write by another user", r, f);
        fflush(stdout);
        _exit(0);
    }
    wait(0);
    mk(f, 06777, 0, 0);
    fd = open(f, O_WRONLY);
    st("write by root keeps set-ID", write(fd, "x", 1), f);
    close(fd);

    mkdir("/tmp/own/sg", 0777);
    chown("/tmp/own/sg", 0, 500);
    chmod("/tmp/own/sg", 02777);
    fflush(stdout);
    if (fork() == 0) {
        setresgid(1000, 1000, 1000);
        setresuid(1000, 1000, 1000);
        umask(0);
        int fd = open("/tmp/own/sg/file", O_CREAT | O_WRONLY, 02755);
        close(fd);
        st("file in a setgid dir (not a member)", fd >= 0 ? 0 : -1, "/tmp/own/sg/file");
        st("dir in a setgid dir", mkdir("/tmp/own/sg/sub", 0755), "/tmp/own/sg/sub");
        fflush(stdout);
        _exit(0);
    }
    wait(0);
    umask(0);
    fd = open("/tmp/own/sg/rootfile", O_CREAT | O_WRONLY, 02755);
    close(fd);
    st("root's file in a setgid dir", fd >= 0 ? 0 : -1, "/tmp/own/sg/rootfile");
    printf("done: ok\n");
    return 0;
}
