/* Copied from the project's shared OCI runtime benchmark harness (shared/bench); keep in sync with it. */
/* pipe_rt: write 1 byte into a pipe and read it back, same thread.
 * One op = one write(2) + one read(2). */
#include "bench.h"

int main(int argc, char **argv)
{
    int p[2];
    char c = 'x';
    bench_init(argc, argv, "pipe_rt", 600000);
    if (pipe(p) != 0)
        bench_die("pipe");
    BENCH(256, {
        if (write(p[1], &c, 1) != 1)
            bench_die("write");
        if (read(p[0], &c, 1) != 1)
            bench_die("read");
    });
    return 0;
}
