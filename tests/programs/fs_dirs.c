/* Directories and process file context: getcwd/chdir/fchdir (also into a removed directory),
 * umask on files and directories, getdents64 listing (sorted here), seekdir/rewinddir, link
 * counts of directories, statfs/fstatfs types, the errors of directory operations. */
#include "moat_test.h"
#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/statfs.h>
#include <sys/syscall.h>

static int cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int main(void) {
    setup();
    char dir[64], cwd[256];
    scratch("fs_dirs", dir, sizeof dir);
    printf("initial cwd: %s\n", getcwd(cwd, sizeof cwd));
    rep("chdir", chdir(dir));
    printf("cwd: %s\n", getcwd(cwd, sizeof cwd));
    mkdir("a", 0755);
    mkdir("a/b", 0755);
    rep("chdir relative", chdir("a/b"));
    printf("cwd: %s\n", getcwd(cwd, sizeof cwd));
    rep("chdir ..", chdir("../.."));
    printf("cwd: %s\n", getcwd(cwd, sizeof cwd));
    int dfd = open("a", O_RDONLY | O_DIRECTORY);
    rep("fchdir", fchdir(dfd));
    printf("cwd: %s\n", getcwd(cwd, sizeof cwd));
    int ffd = open("/etc/passwd", O_RDONLY);
    rep_err("fchdir to a file", fchdir(ffd));
    rep_err("chdir to a file", chdir("/etc/passwd"));
    rep_err("chdir missing", chdir("/nonexistent"));
    rep_err("getcwd into a tiny buffer", getcwd(cwd, 3) ? 0 : -1);
    rep("chdir /", chdir("/"));
    rep("chdir .. at / stays at /", chdir(".."));
    printf("cwd: %s\n", getcwd(cwd, sizeof cwd));

    pid_t p = fork();
    if (p == 0) {
        chdir("/tmp/fs_dirs.d/a/b");
        rmdir("/tmp/fs_dirs.d/a/b");
        errno = 0;
        long r = syscall(SYS_getcwd, cwd, sizeof cwd);
        printf("  getcwd in a removed directory: %s %s\n", r < 0 ? errname(errno) : "ok", r > 0 ? cwd : "");
        rep_err("  create a file there", open("x", O_CREAT | O_WRONLY, 0644));
        rep("  chdir .. from there", chdir(".."));
        printf("  cwd: %s\n", getcwd(cwd, sizeof cwd));
        _exit(0);
    }
    reap("child", p);
    chdir(dir);

    // umask.
    printf("umask was: %03o\n", umask(027));
    close(open("m1", O_CREAT | O_WRONLY, 0666));
    mkdir("m2", 0777);
    mknod("m3", S_IFIFO | 0666, 0);
    struct stat st;
    stat("m1", &st);
    printf("file with umask 027: %04o\n", st.st_mode & 07777);
    stat("m2", &st);
    printf("dir with umask 027: %04o\n", st.st_mode & 07777);
    stat("m3", &st);
    printf("fifo with umask 027: %04o\n", st.st_mode & 07777);
    printf("umask returns: %03o\n", umask(022));
    pid_t c = fork();
    if (c == 0) _exit(umask(0));
    int s2;
    waitpid(c, &s2, 0);
    printf("child inherits umask: %03o\n", WEXITSTATUS(s2));

    // Listing.
    for (int i = 0; i < 20; i++) {
        char n[16];
        snprintf(n, sizeof n, "e%02d", i);
        close(open(n, O_CREAT | O_WRONLY, 0644));
    }
    symlink("e00", "ln");
    DIR *d = opendir(".");
    char *names[64];
    int nn = 0, types_ok = 1;
    struct dirent *e;
    while ((e = readdir(d)) && nn < 64) {
        names[nn++] = strdup(e->d_name);
        if (strcmp(e->d_name, "ln") == 0 && e->d_type != DT_LNK) types_ok = 0;
        if (strcmp(e->d_name, "a") == 0 && e->d_type != DT_DIR) types_ok = 0;
        if (strcmp(e->d_name, "e05") == 0 && e->d_type != DT_REG) types_ok = 0;
        if (strcmp(e->d_name, "m3") == 0 && e->d_type != DT_FIFO) types_ok = 0;
    }
    qsort(names, nn, sizeof names[0], cmp);
    printf("readdir (%d):", nn);
    for (int i = 0; i < nn; i++) printf(" %s", names[i]);
    printf("\nd_type right: %s\n", types_ok ? "yes" : "no");
    rewinddir(d);
    int again = 0;
    while (readdir(d)) again++;
    printf("after rewinddir: %d entries\n", again);
    rewinddir(d);
    for (int i = 0; i < 5; i++) readdir(d);
    long pos = telldir(d);
    struct dirent *at = readdir(d);
    char want[256];
    snprintf(want, sizeof want, "%s", at ? at->d_name : "");
    for (int i = 0; i < 3; i++) readdir(d);
    seekdir(d, pos);
    at = readdir(d);
    printf("seekdir back to telldir: %s\n", at && strcmp(at->d_name, want) == 0 ? "same entry" : "different");
    closedir(d);
    int fd = open(".", O_RDONLY | O_DIRECTORY);
    char small[16];
    rep_err("getdents64 with a tiny buffer", syscall(SYS_getdents64, fd, small, sizeof small));
    rep_err("getdents64 on a file", syscall(SYS_getdents64, ffd, small, sizeof small));
    rep_err("read on a directory", read(fd, small, sizeof small));

    stat(".", &st);
    printf("nlink of a dir with subdirs a, m2: %lu\n", (unsigned long)st.st_nlink);
    stat("a", &st);
    printf("nlink of an empty dir: %lu\n", (unsigned long)st.st_nlink);
    rep_err("rmdir non-empty", rmdir("."));
    rep_err("rmdir .", rmdir("a/."));
    rep_err("rmdir a file", rmdir("e00"));
    rep_err("mkdir existing", mkdir("a", 0755));
    rep_err("unlink a directory", unlink("a"));
    rep("rmdir", rmdir("a"));

    struct statfs sf;
    rep("statfs /proc", statfs("/proc", &sf));
    printf("  /proc is procfs: %s\n", sf.f_type == PROC_SUPER_MAGIC ? "yes" : "no");
    statfs("/dev/shm", &sf);
    printf("  /dev/shm is tmpfs: %s\n", sf.f_type == TMPFS_MAGIC ? "yes" : "no");
    statfs("/sys", &sf);
    printf("  /sys is sysfs: %s\n", sf.f_type == SYSFS_MAGIC ? "yes" : "no");
    rep("statfs /", statfs("/", &sf));
    printf("  bsize > 0: %s, namelen: %ld\n", sf.f_bsize > 0 ? "yes" : "no", (long)sf.f_namelen);
    rep("fstatfs", fstatfs(fd, &sf));
    rep_err("statfs missing", statfs("/nonexistent", &sf));
    chdir("/");
    scratch_done(dir);
    done();
}
