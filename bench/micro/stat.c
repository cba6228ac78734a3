/* Copied from the project's shared OCI runtime benchmark harness (shared/bench); keep in sync with it. */
/* stat: stat(2) of an existing file (default /bench/data/small). */
#include "bench.h"

int main(int argc, char **argv)
{
    char path[4096];
    int created;
    struct stat st;
    bench_init(argc, argv, "stat", 500000);
    bench_data_file("/bench/data/small", 4096, path, sizeof path, &created);
    BENCH(256, { if (stat(path, &st) != 0) bench_die("stat"); });
    if (created)
        unlink(path);
    return 0;
}
