/* Copied from the project's shared OCI runtime benchmark harness (shared/bench); keep in sync with it. */
/* fork_wait: fork(); child _exit(0)s at once; parent waitpid()s. */
#include "bench.h"
#include <sys/wait.h>

int main(int argc, char **argv)
{
    bench_init(argc, argv, "fork_wait", 2000);
    BENCH(4, {
        pid_t pid = fork();
        if (pid < 0)
            bench_die("fork");
        if (pid == 0)
            _exit(0);
        int st;
        if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
            bench_die("waitpid");
    });
    return 0;
}
