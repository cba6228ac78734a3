/* syscalls.c - exercises the syscalls of the foundation issue one by one and prints one
 * deterministic `name: result` line per check (no pids, times or addresses), so that the
 * output natively and under moat can be compared line by line.
 *
 * Covered: fork/vfork + execve + wait4 (exit codes, signals), exit_group, pipe2, fcntl,
 * dup/dup2/dup3, openat/read/write/pread64/pwrite64/lseek, the stat family, getdents64,
 * ioctl (ENOTTY), uname, getpid and friends, brk, mmap/munmap/mprotect, arch_prctl,
 * set_tid_address, rt_sigaction/rt_sigprocmask/rt_sigreturn, kill, clock_gettime,
 * nanosleep, getrandom.
 */
#define _GNU_SOURCE
#include <asm/prctl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

static void out(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out(const char *name, const char *fmt, ...) {
    va_list ap;
    printf("%s: ", name);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
}

static const char *status_str(int st) {
    static char buf[64];
    if (WIFEXITED(st)) snprintf(buf, sizeof buf, "exited %d", WEXITSTATUS(st));
    else if (WIFSIGNALED(st)) snprintf(buf, sizeof buf, "signaled %d", WTERMSIG(st));
    else snprintf(buf, sizeof buf, "other 0x%x", st);
    return buf;
}

/* Prints `name: ret=R errno=E` for a call that is expected to fail (errno read after it). */
#define FAILS(name, expr)                                                  \
    do {                                                                   \
        errno = 0;                                                         \
        long r_ = (long)(expr);                                            \
        int e_ = errno;                                                    \
        out(name, "ret=%ld errno=%d", r_, e_);                             \
    } while (0)

static void check_processes(void) {
    pid_t me = getpid();
    pid_t c = fork();
    if (c == 0) {
        if (getppid() != me) _exit(99);
        _exit(7);
    }
    int st = 0;
    struct rusage ru;
    pid_t w = wait4(c, &st, 0, &ru);
    out("fork+wait4", "%s same_pid=%d", status_str(st), w == c);

    c = fork();
    if (c == 0) {
        for (;;) pause();
    }
    kill(c, SIGKILL);
    waitpid(c, &st, 0);
    out("kill child SIGKILL", "%s", status_str(st));

    c = fork();
    if (c == 0) {
        for (;;) pause();
    }
    kill(c, SIGTERM);
    waitpid(c, &st, 0);
    out("kill child SIGTERM", "%s", status_str(st));

    volatile int child_errno = 0;
    c = vfork();
    if (c == 0) {
        char *argv[] = {"/bin/true", NULL};
        char *envp[] = {NULL};
        execve("/bin/true", argv, envp);
        _exit(127);
    }
    waitpid(c, &st, 0);
    out("vfork+execve /bin/true", "%s", status_str(st));

    c = vfork();
    if (c == 0) {
        char *argv[] = {"/no/such/file", NULL};
        char *envp[] = {NULL};
        execve("/no/such/file", argv, envp);
        child_errno = errno;
        _exit(127);
    }
    waitpid(c, &st, 0);
    out("vfork+execve missing", "%s errno=%d", status_str(st), child_errno);

    c = fork();
    if (c == 0) {
        char *argv[] = {"/bin/sh", "-c", "exit 42", NULL};
        char *envp[] = {"PATH=/bin", NULL};
        execve("/bin/sh", argv, envp);
        _exit(127);
    }
    waitpid(c, &st, 0);
    out("fork+execve sh exit 42", "%s", status_str(st));

    c = fork();
    if (c == 0) syscall(SYS_exit_group, 3);
    waitpid(c, &st, 0);
    out("exit_group", "%s", status_str(st));

    FAILS("wait no children", waitpid(-1, &st, WNOHANG));
}

static void check_pipes_fds(void) {
    int p[2];
    int r = pipe2(p, O_CLOEXEC);
    out("pipe2", "ret=%d cloexec=%d", r, (fcntl(p[0], F_GETFD) & FD_CLOEXEC) != 0);
    out("pipe write", "%zd", write(p[1], "hello", 5));
    char buf[64] = {0};
    out("pipe read", "%zd %s", read(p[0], buf, sizeof buf), buf);
    fcntl(p[0], F_SETFL, fcntl(p[0], F_GETFL) | O_NONBLOCK);
    FAILS("nonblocking empty read", read(p[0], buf, sizeof buf));
    out("O_NONBLOCK set", "%d", (fcntl(p[0], F_GETFL) & O_NONBLOCK) != 0);
    int d = dup(p[1]);
    out("dup", "ok=%d cloexec=%d", d > 2, (fcntl(d, F_GETFD) & FD_CLOEXEC) != 0);
    out("dup2", "%d", dup2(p[1], 50));
    out("dup3 cloexec", "%d cloexec=%d", dup3(p[1], 51, O_CLOEXEC),
        (fcntl(51, F_GETFD) & FD_CLOEXEC) != 0);
    out("F_DUPFD_CLOEXEC", "ge60=%d", fcntl(p[1], F_DUPFD_CLOEXEC, 60) >= 60);
    struct termios tio;
    FAILS("ioctl TCGETS on a pipe", ioctl(p[0], TCGETS, &tio));
    FAILS("close bad fd", close(1000));
    close(p[0]);
    signal(SIGPIPE, SIG_IGN);
    FAILS("write to pipe without reader", write(p[1], "x", 1));
    signal(SIGPIPE, SIG_DFL);
    close(p[1]);
    close(d);
    close(50);
    close(51);
}

static void check_files(void) {
    mkdir("/tmp/sc", 0755);
    int dfd = open("/tmp/sc", O_RDONLY | O_DIRECTORY);
    int fd = openat(dfd, "f", O_CREAT | O_RDWR | O_TRUNC, 0640);
    out("openat create", "ok=%d", fd >= 0);
    out("write", "%zd", write(fd, "0123456789", 10));
    out("pwrite64", "%zd", pwrite(fd, "AB", 2, 4));
    char buf[32] = {0};
    out("pread64", "%zd %.10s", pread(fd, buf, 10, 0), buf);
    out("lseek END", "%ld", (long)lseek(fd, 0, SEEK_END));
    out("lseek SET 3", "%ld", (long)lseek(fd, 3, SEEK_SET));
    memset(buf, 0, sizeof buf);
    out("read after seek", "%zd %s", read(fd, buf, 4), buf);
    out("lseek CUR", "%ld", (long)lseek(fd, 0, SEEK_CUR));
    struct stat st;
    fstat(fd, &st);
    out("fstat", "size=%ld mode=%o reg=%d", (long)st.st_size, st.st_mode & 07777,
        S_ISREG(st.st_mode));
    close(fd);
    symlinkat("f", dfd, "link");
    stat("/tmp/sc/link", &st);
    out("stat via symlink", "size=%ld reg=%d", (long)st.st_size, S_ISREG(st.st_mode));
    lstat("/tmp/sc/link", &st);
    out("lstat", "lnk=%d size=%ld", S_ISLNK(st.st_mode), (long)st.st_size);
    fstatat(dfd, "f", &st, 0);
    out("newfstatat", "size=%ld", (long)st.st_size);
    FAILS("stat missing", stat("/tmp/sc/missing", &st));
    FAILS("open missing", open("/tmp/sc/missing", O_RDONLY));
    FAILS("open O_EXCL existing", openat(dfd, "f", O_CREAT | O_EXCL | O_WRONLY, 0600));
    FAILS("open dir for write", open("/tmp/sc", O_WRONLY));
    FAILS("openat through a file", open("/tmp/sc/f/x", O_RDONLY));
    FAILS("read from a bad fd", read(999, buf, 1));
    mkdirat(dfd, "sub", 0755);
    close(openat(dfd, "g", O_CREAT | O_WRONLY, 0600));
    char dents[4096];
    long n = syscall(SYS_getdents64, dfd, dents, sizeof dents);
    int count = 0, dirs = 0;
    for (long off = 0; off < n;) {
        struct dirent64 {
            uint64_t ino;
            int64_t off;
            unsigned short reclen;
            unsigned char type;
            char name[];
        } *d = (void *)(dents + off);
        if (strcmp(d->name, ".") && strcmp(d->name, "..")) {
            count++;
            if (d->type == DT_DIR) dirs++;
        }
        off += d->reclen;
    }
    out("getdents64", "entries=%d dirs=%d", count, dirs);
    out("getdents64 at end", "%ld", syscall(SYS_getdents64, dfd, dents, sizeof dents));
    out("unlinkat", "%d %d %d", unlinkat(dfd, "link", 0), unlinkat(dfd, "g", 0),
        unlinkat(dfd, "sub", AT_REMOVEDIR));
    close(dfd);
    char cwd[256];
    chdir("/tmp/sc");
    out("chdir+getcwd", "%s", getcwd(cwd, sizeof cwd));
    chdir("/");
}

static volatile sig_atomic_t usr1, usr2;
static void on_usr1(int s) { (void)s; usr1++; }
static void on_usr2(int s) { (void)s; usr2++; }

static void check_signals(void) {
    struct sigaction sa = {0};
    sa.sa_handler = on_usr1;
    sigaction(SIGUSR1, &sa, NULL);
    raise(SIGUSR1);
    out("handler ran", "%d", usr1);
    sa.sa_handler = on_usr2;
    sigaction(SIGUSR2, &sa, NULL);
    sigset_t set, old, pend;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR2);
    sigprocmask(SIG_BLOCK, &set, &old);
    kill(getpid(), SIGUSR2);
    sigpending(&pend);
    out("blocked signal pending", "pending=%d ran=%d", sigismember(&pend, SIGUSR2), usr2);
    sigprocmask(SIG_SETMASK, &old, NULL);
    out("unblocked signal delivered", "ran=%d", usr2);
    struct sigaction cur;
    sigaction(SIGUSR1, NULL, &cur);
    out("sigaction query", "same=%d", cur.sa_handler == on_usr1);
    signal(SIGUSR1, SIG_IGN);
    raise(SIGUSR1);
    out("ignored signal", "ran=%d", usr1);
    signal(SIGUSR1, SIG_DFL);

    pid_t c = fork();
    if (c == 0) {
        volatile int *p = NULL;
        *p = 1;
        _exit(0);
    }
    int st;
    waitpid(c, &st, 0);
    out("child null write", "%s", status_str(st));

    c = fork();
    if (c == 0) {
        char *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        m[0] = 1;
        mprotect(m, 4096, PROT_READ);
        m[0] = 2;
        _exit(0);
    }
    waitpid(c, &st, 0);
    out("child write to PROT_READ", "%s", status_str(st));

    c = fork();
    if (c == 0) {
        signal(SIGTERM, SIG_IGN);
        raise(SIGTERM);
        _exit(5);
    }
    waitpid(c, &st, 0);
    out("child ignoring SIGTERM", "%s", status_str(st));
}

static void check_memory(void) {
    char *b0 = sbrk(0);
    char *b1 = sbrk(1 << 20);
    memset(b1, 7, 1 << 20);
    out("brk grow", "ok=%d", b1 == b0 && sbrk(0) == b0 + (1 << 20));
    sbrk(-(1 << 20));
    out("brk shrink", "ok=%d", sbrk(0) == b0);
    char *m = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    int zero = 1;
    for (int i = 0; i < 65536; i++) zero &= m[i] == 0;
    memset(m, 1, 65536);
    out("mmap anon", "ok=%d zeroed=%d", m != MAP_FAILED, zero);
    out("mprotect", "%d", mprotect(m, 65536, PROT_READ));
    out("munmap", "%d", munmap(m, 65536));
    FAILS("mmap length 0", mmap(NULL, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    char *big = malloc(8 << 20);
    memset(big, 3, 8 << 20);
    long sum = 0;
    for (int i = 0; i < (8 << 20); i += 4096) sum += big[i];
    out("malloc 8M", "sum=%ld", sum);
    free(big);
    unsigned long fs = 0;
    syscall(SYS_arch_prctl, ARCH_GET_FS, &fs);
    out("arch_prctl GET_FS", "set=%d", fs != 0);
    long tid = syscall(SYS_set_tid_address, NULL);
    out("set_tid_address", "is_pid=%d", tid == getpid());
}

static void check_misc(void) {
    struct utsname u;
    uname(&u);
    out("uname", "sysname=%s machine=%s", u.sysname, u.machine);
    out("ids", "uid=%d euid=%d gid=%d egid=%d", getuid(), geteuid(), getgid(), getegid());
    out("getpid==gettid", "%d", getpid() == (pid_t)syscall(SYS_gettid));
    struct timespec a, b, r;
    clock_gettime(CLOCK_MONOTONIC, &a);
    struct timespec d = {0, 20 * 1000 * 1000};
    nanosleep(&d, NULL);
    clock_gettime(CLOCK_MONOTONIC, &b);
    long ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
    out("nanosleep 20ms", "slept_enough=%d", ms >= 20);
    clock_gettime(CLOCK_REALTIME, &r);
    out("clock_gettime REALTIME", "after_2024=%d", r.tv_sec > 1704067200);
    unsigned char x[32], y[32];
    ssize_t n1 = getrandom(x, sizeof x, 0), n2 = getrandom(y, sizeof y, 0);
    out("getrandom", "%zd %zd differ=%d", n1, n2, memcmp(x, y, sizeof x) != 0);
    out("isatty stdout", "%d", isatty(1));
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    check_processes();
    check_pipes_fds();
    check_files();
    check_signals();
    check_memory();
    check_misc();
    out("done", "ok");
    return 0;
}
