/* Copied from the project's shared OCI runtime benchmark harness (shared/bench); keep in sync with it. */
/* pread_64k: pread(2) of 64 KiB from a 1 MiB (page-cache hot) file, cycling
 * over the 16 offsets (default /bench/data/1m, override $BENCH_FILE). */
#include "bench.h"

#define CHUNK_SZ 65536
#define FILE_SZ (1 << 20)

static char buf[CHUNK_SZ];

int main(int argc, char **argv)
{
    char path[4096];
    int created;
    bench_init(argc, argv, "pread_64k", 200000);
    bench_data_file("/bench/data/1m", FILE_SZ, path, sizeof path, &created);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        bench_die("open");
    BENCH(64, {
        off_t off = (off_t)(BI % (FILE_SZ / CHUNK_SZ)) * CHUNK_SZ;
        if (pread(fd, buf, CHUNK_SZ, off) != CHUNK_SZ)
            bench_die("pread");
    });
    close(fd);
    if (created)
        unlink(path);
    return 0;
}
