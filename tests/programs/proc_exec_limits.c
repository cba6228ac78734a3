/* execve's limits on arguments and environment, as Linux counts them: one string longer than
 * MAX_ARG_STRLEN (32 pages), and argv + envp beyond a quarter of the stack rlimit, are E2BIG;
 * just below both limits exec works; a smaller RLIMIT_STACK lowers the total limit; an error
 * leaves the caller running. Also sethostname's 64-byte limit. */
#include "moat_test.h"
#include <sys/resource.h>
#include <sys/wait.h>

static char *big(size_t n) {
    char *s = malloc(n + 1);
    memset(s, 'x', n);
    s[n] = 0;
    return s;
}

/* Forks, execs /bin/true with argv; prints the exec error or the child's exit. */
static void try_exec(const char *what, char **argv, char **envp) {
    int fds[2];
    if (pipe(fds) != 0) return;
    pid_t p = fork();
    if (p == 0) {
        close(fds[0]);
        execve("/bin/true", argv, envp);
        int e = errno;
        if (write(fds[1], &e, sizeof e) < 0) _exit(3);
        _exit(2);
    }
    close(fds[1]);
    int e = 0;
    ssize_t n = read(fds[0], &e, sizeof e);
    close(fds[0]);
    int st;
    waitpid(p, &st, 0);
    if (n == sizeof e)
        printf("%s: %s\n", what, errname(e));
    else
        printf("%s: exit %d\n", what, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

int main(void) {
    setup();
    char *env0[] = {"PATH=/bin", NULL};
    char *a1[] = {"true", big(128 * 1024), NULL};
    try_exec("one argument of 128 KiB", a1, env0);
    char *a2[] = {"true", big(128 * 1024 - 1), NULL};
    try_exec("one argument of 128 KiB - 1", a2, env0);
    char *e1[] = {big(128 * 1024), NULL};
    char *a0[] = {"true", NULL};
    try_exec("one env string of 128 KiB", a0, e1);
    /* 40 x 100 KiB = 4 MiB > 8 MiB / 4 */
    char *many[42];
    many[0] = "true";
    for (int i = 1; i <= 40; i++) many[i] = big(100 * 1024);
    many[41] = NULL;
    try_exec("4 MiB of arguments (stack limit 8 MiB)", many, env0);
    many[15] = NULL; /* 1.4 MiB */
    try_exec("1.4 MiB of arguments (stack limit 8 MiB)", many, env0);
    struct rlimit rl = {1 << 22, RLIM_INFINITY};
    if (getrlimit(RLIMIT_STACK, &rl) == 0 && rl.rlim_max >= (1u << 22)) {
        struct rlimit small = {1 << 22, rl.rlim_max};
        setrlimit(RLIMIT_STACK, &small);
        try_exec("1.4 MiB of arguments (stack limit 4 MiB)", many, env0);
        setrlimit(RLIMIT_STACK, &rl);
    }
    char h[80];
    memset(h, 'h', sizeof h);
    rep_err("sethostname of 65 bytes", sethostname(h, 65));
    char old[128] = {0};
    gethostname(old, sizeof old);
    rep("sethostname of 64 bytes", sethostname(h, 64));
    sethostname(old, strlen(old));
    done();
}
