/* Copied from the project's shared OCI runtime benchmark harness (shared/bench); keep in sync with it. */
/* getpid: raw syscall(SYS_getpid) (bypasses any libc pid caching). */
#include "bench.h"
#include <sys/syscall.h>

int main(int argc, char **argv)
{
    bench_init(argc, argv, "getpid", 4000000);
    BENCH(256, { if (syscall(SYS_getpid) <= 0) bench_die("getpid"); });
    return 0;
}
