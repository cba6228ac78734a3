/* Copied from the project's shared OCI runtime benchmark harness (shared/bench); keep in sync with it. */
/* spawn_time: time fork+execve+waitpid of an arbitrary command, from inside
 * the container (so container start-up is excluded).
 *
 *   spawn_time NAME ITERS MAX_SECONDS PROGRAM [ARGS...]
 *
 * PROGRAM must be an absolute path.  The environment is inherited; the
 * child's stdout/stderr go to /dev/null.  Prints "NAME ns_per_op=N".
 * Built with the same flags as the microbenchmarks (gcc -O2 -static). */
#include "../micro/bench.h"
#include <sys/wait.h>

extern char **environ;

int main(int argc, char **argv)
{
    if (argc < 5 || argv[4][0] != '/') {
        fprintf(stderr, "usage: %s NAME ITERS MAX_SECONDS /ABS/PROGRAM [ARGS...]\n", argv[0]);
        return 2;
    }
    char *bargv[] = {argv[0], argv[2], argv[3], NULL};
    bench_init(3, bargv, argv[1], 10);
    char **cargv = &argv[4];
    int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
    BENCH(1, {
        pid_t pid = fork();
        if (pid < 0)
            bench_die("fork");
        if (pid == 0) {
            if (devnull >= 0) {
                dup2(devnull, 1);
                dup2(devnull, 2);
            }
            execve(cargv[0], cargv, environ);
            _exit(127);
        }
        int st;
        if (waitpid(pid, &st, 0) != pid)
            bench_die("waitpid");
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            errno = 0;
            fprintf(stderr, "%s FAIL child status 0x%x\n", bench_name, st);
            _exit(1);
        }
    });
    return 0;
}
