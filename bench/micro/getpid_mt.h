/* (moat) getpid_mtN: N threads call raw getpid in a loop for a fixed time; ns_per_op is wall
 * time per call summed over all threads (so N threads that run in parallel show about 1/N of
 * one thread's figure). Throughput with N threads relative to one thread is
 * getpid_mt1 / getpid_mtN. The time is MAX_SECONDS (BENCH_MAX_SEC) when given, else 1 s;
 * ITERS is unused. */
#include "bench.h"
#include <pthread.h>
#include <sys/syscall.h>

static volatile int mt_stop;
static uint64_t mt_counts[64];
static pthread_barrier_t mt_start;

static void *mt_worker(void *arg)
{
    long i = (long)arg;
    uint64_t n = 0;
    pthread_barrier_wait(&mt_start);
    while (!mt_stop) {
        for (int k = 0; k < 64; k++)
            if (syscall(SYS_getpid) <= 0)
                bench_die("getpid");
        n += 64;
    }
    mt_counts[i] = n;
    return NULL;
}

static int getpid_mt_main(int argc, char **argv, const char *name, int threads)
{
    pthread_t t[64];
    bench_init(argc, argv, name, 1);
    uint64_t dur = bench_max_ns ? bench_max_ns : 1000000000ull;
    if (dur > 1000000000ull)
        dur = 1000000000ull;
    if (pthread_barrier_init(&mt_start, NULL, threads + 1) != 0)
        bench_die("pthread_barrier_init");
    for (long i = 0; i < threads; i++)
        if (pthread_create(&t[i], NULL, mt_worker, (void *)i) != 0)
            bench_die("pthread_create");
    pthread_barrier_wait(&mt_start);
    uint64_t t0 = now_ns();
    struct timespec ts = {(time_t)(dur / 1000000000ull), (long)(dur % 1000000000ull)};
    nanosleep(&ts, NULL);
    mt_stop = 1;
    uint64_t total = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        total += mt_counts[i];
    }
    uint64_t t1 = now_ns();
    bench_report(total, t1 - t0);
    fprintf(stderr, "# %s threads=%d calls_per_s=%.0f\n", name, threads,
            (double)total * 1e9 / (double)(t1 - t0));
    return 0;
}
