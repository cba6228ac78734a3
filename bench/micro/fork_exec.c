/* Copied from the project's shared OCI runtime benchmark harness (shared/bench); keep in sync with it. */
/* fork_exec: fork(); child execve()s a tiny static binary that exits 0
 * (default: "nop" next to this binary, i.e. /bench/nop; override with
 * $BENCH_EXEC); parent waitpid()s. */
#include "bench.h"
#include <libgen.h>
#include <sys/wait.h>

int main(int argc, char **argv)
{
    char path[4096];
    const char *env = getenv("BENCH_EXEC");
    bench_init(argc, argv, "fork_exec", 2500);
    if (env && *env) {
        snprintf(path, sizeof path, "%s", env);
    } else if (strchr(argv[0], '/')) {
        char tmp[4096];
        snprintf(tmp, sizeof tmp, "%s", argv[0]);
        snprintf(path, sizeof path, "%s/nop", dirname(tmp));
    } else {
        snprintf(path, sizeof path, "/bench/nop");
    }
    if (access(path, X_OK) != 0)
        bench_die(path);
    char *cargv[] = {path, NULL};
    char *cenv[] = {NULL};
    BENCH(1, {
        pid_t pid = fork();
        if (pid < 0)
            bench_die("fork");
        if (pid == 0) {
            execve(path, cargv, cenv);
            _exit(127);
        }
        int st;
        if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
            bench_die("waitpid/exec");
    });
    return 0;
}
