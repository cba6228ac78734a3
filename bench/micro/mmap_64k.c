/* Copied from the project's shared OCI runtime benchmark harness (shared/bench); keep in sync with it. */
/* mmap_64k: mmap 64 KiB anonymous private RW, write one byte (one page
 * fault), munmap. */
#include "bench.h"
#include <sys/mman.h>

int main(int argc, char **argv)
{
    bench_init(argc, argv, "mmap_64k", 80000);
    BENCH(64, {
        volatile char *p = mmap(NULL, 65536, PROT_READ | PROT_WRITE,
                                MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            bench_die("mmap");
        p[0] = 1;
        if (munmap((void *)p, 65536) != 0)
            bench_die("munmap");
    });
    return 0;
}
