/* Copied from the project's shared OCI runtime benchmark harness (shared/bench); keep in sync with it. */
/* open_close: open(O_RDONLY)+close of an existing file
 * (default /bench/data/small, override with $BENCH_FILE). */
#include "bench.h"

int main(int argc, char **argv)
{
    char path[4096];
    int created;
    bench_init(argc, argv, "open_close", 250000);
    bench_data_file("/bench/data/small", 4096, path, sizeof path, &created);
    BENCH(256, {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            bench_die("open");
        if (close(fd) != 0)
            bench_die("close");
    });
    if (created)
        unlink(path);
    return 0;
}
