/* fork, vfork and execve: what a child inherits and what exec resets. Close-on-exec fds
 * close, others stay open with their offsets; handled signals reset to SIG_DFL while ignored
 * ones stay ignored; the signal mask and pending signals survive; argv/envp arrive intact;
 * /proc/self/exe and comm follow the new image; the offset of a shared file description moves
 * for both processes; vfork suspends the parent until the child execs or exits. */
#include "moat_test.h"
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

static void on_usr1(int s) { (void)s; }

static int child_mode(int argc, char **argv, char **envp) {
    int keep = atoi(argv[2]), cloexec = atoi(argv[3]);
    printf("  exec'd: argc=%d argv[4]=%s env:", argc, argv[4]);
    for (char **e = envp; *e; e++) printf(" %s", *e);
    printf("\n");
    printf("  kept fd open: %s, offset %ld\n", fcntl(keep, F_GETFD) >= 0 ? "yes" : "no", (long)lseek(keep, 0, SEEK_CUR));
    printf("  cloexec fd closed: %s\n", fcntl(cloexec, F_GETFD) < 0 && errno == EBADF ? "yes" : "no");
    struct sigaction sa;
    sigaction(SIGUSR1, NULL, &sa);
    printf("  SIGUSR1 (was handled): %s\n", sa.sa_handler == SIG_DFL ? "SIG_DFL" : "other");
    sigaction(SIGUSR2, NULL, &sa);
    printf("  SIGUSR2 (was ignored): %s\n", sa.sa_handler == SIG_IGN ? "SIG_IGN" : "other");
    sigset_t m, p;
    sigprocmask(SIG_SETMASK, NULL, &m);
    sigpending(&p);
    printf("  SIGTERM still blocked: %d, SIGTERM still pending: %d\n", sigismember(&m, SIGTERM), sigismember(&p, SIGTERM));
    char exe[128] = {0}, comm[32] = {0};
    readlink("/proc/self/exe", exe, sizeof exe - 1);
    prctl(PR_GET_NAME, comm);
    printf("  exe=%s comm=%s\n", exe, comm);
    stack_t ss;
    sigaltstack(NULL, &ss);
    printf("  alternate stack after exec: %s\n", ss.ss_flags & SS_DISABLE ? "disabled" : "still set");
    return 12;
}

int main(int argc, char **argv, char **envp) {
    setup();
    if (argc > 1 && strcmp(argv[1], "child") == 0) return child_mode(argc, argv, envp);
    prctl(PR_SET_NAME, "before-exec");

    // fork: copies memory, shares file descriptions.
    int x = 1;
    int fd = open("/tmp/proc_fork_exec.f", O_RDWR | O_CREAT | O_TRUNC, 0644);
    pid_t p = fork();
    if (p == 0) {
        x = 2;
        write(fd, "child", 5);
        _exit(x == 2 ? 0 : 1);
    }
    reap("fork child", p);
    printf("parent's copy of x unchanged: %d\n", x);
    printf("shared offset after the child's write: %ld\n", (long)lseek(fd, 0, SEEK_CUR));
    check("fork returns the child's pid to the parent", p > 0);

    // vfork: the parent sleeps until the child exits; the child's exit status arrives.
    long t0 = now_ms(CLOCK_MONOTONIC);
    p = vfork();
    if (p == 0) {
        sleep_ms(50);
        _exit(6);
    }
    check("vfork parent resumed after the child was done", now_ms(CLOCK_MONOTONIC) - t0 >= 45);
    reap("vfork child", p);

    // execve: what survives.
    int keep = open("/tmp/proc_fork_exec.f", O_RDONLY);
    lseek(keep, 3, SEEK_SET);
    int ce = open("/tmp/proc_fork_exec.f", O_RDONLY | O_CLOEXEC);
    signal(SIGUSR1, on_usr1);
    signal(SIGUSR2, SIG_IGN);
    sigset_t m;
    sigemptyset(&m);
    sigaddset(&m, SIGTERM);
    sigprocmask(SIG_BLOCK, &m, NULL);
    stack_t ss = {.ss_sp = malloc(65536), .ss_size = 65536, .ss_flags = 0};
    sigaltstack(&ss, NULL);
    p = fork();
    if (p == 0) {
        raise(SIGTERM); /* pending across exec */
        char a1[16], a2[16];
        snprintf(a1, sizeof a1, "%d", keep);
        snprintf(a2, sizeof a2, "%d", ce);
        char *av[] = {"/opt/moat-tests/proc_fork_exec", "child", a1, a2, "four with spaces", NULL};
        char *ev[] = {"A=1", "EMPTY=", "LONG=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", NULL};
        execve(av[0], av, ev);
        _exit(99);
    }
    reap("exec'd child", p);

    // vfork + exec: the child borrows our memory until it execs.
    p = vfork();
    if (p == 0) {
        char *av[] = {"/bin/sh", "-c", "echo '  vfork+exec child ran'; exit 4", NULL};
        execve(av[0], av, envp);
        _exit(127);
    }
    reap("vfork+exec child", p);

    // exec failures leave the process as it was.
    char *av[] = {"/nonexistent", NULL};
    rep_err("execve of a missing file", execve(av[0], av, envp));
    char *av2[] = {"/tmp", NULL};
    rep_err("execve of a directory", execve(av2[0], av2, envp));
    char *av3[] = {"/tmp/proc_fork_exec.f", NULL};
    rep_err("execve of a non-executable file", execve(av3[0], av3, envp));
    close(fd); /* an executable open for writing would be ETXTBSY */
    chmod("/tmp/proc_fork_exec.f", 0755);
    rep_err("execve of an executable garbage file", execve(av3[0], av3, envp));
    rep_err("execve with a bad argv pointer", syscall(SYS_execve, "/bin/true", (void *)1, envp));
    rep_err("execve with a bad path pointer", syscall(SYS_execve, (void *)1, av, envp));
    int dfd = open("/opt/moat-tests", O_RDONLY | O_DIRECTORY);
    p = fork();
    if (p == 0) {
        char *a[] = {"true", NULL};
        syscall(SYS_execveat, dfd, "../../bin/true", a, envp, 0);
        _exit(98);
    }
    reap("execveat relative to a dirfd", p);
    int efd = open("/bin/true", O_PATH);
    p = fork();
    if (p == 0) {
        char *a[] = {"true", NULL};
        syscall(SYS_execveat, efd, "", a, envp, AT_EMPTY_PATH);
        _exit(98);
    }
    reap("execveat AT_EMPTY_PATH (fexecve)", p);
    unlink("/tmp/proc_fork_exec.f");
    done();
}
