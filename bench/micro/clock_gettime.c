/* Copied from the project's shared OCI runtime benchmark harness (shared/bench); keep in sync with it. */
/* clock_gettime: clock_gettime(CLOCK_MONOTONIC) through libc (vDSO when the
 * kernel/sandbox provides one). */
#include "bench.h"

int main(int argc, char **argv)
{
    struct timespec ts;
    bench_init(argc, argv, "clock_gettime", 25000000);
    BENCH(256, {
        if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
            bench_die("clock_gettime");
        __asm__ volatile("" : : "r"(&ts) : "memory");
    });
    return 0;
}
