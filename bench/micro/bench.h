/* Copied from the project's shared OCI runtime benchmark harness (shared/bench); keep in sync with it. */
/*
 * bench.h - tiny header-only harness shared by the microbenchmarks.
 *
 * Every benchmark binary is invoked as
 *
 *     NAME [ITERS] [MAX_SECONDS]
 *
 *   ITERS        iterations of the timed loop (default: per benchmark, sized
 *                so that a native run on a 2-core VM takes roughly 0.5-2 s).
 *                Env BENCH_ITERS is used when the argument is absent.
 *   MAX_SECONDS  wall-clock cap on the timed loop (0 = no cap, the default;
 *                env BENCH_MAX_SEC is used when the argument is absent).
 *                Slow sandboxes (e.g. gVisor/ptrace) would otherwise need
 *                minutes for the native iteration count; with a cap the loop
 *                stops early and ns_per_op is computed over the iterations
 *                actually done.  The deadline is checked once per CHUNK
 *                iterations, so the check costs <1 ns/op for cheap ops.
 *
 * Output: exactly one line on stdout,   "NAME ns_per_op=N"
 *         plus one informational line on stderr starting with "#".
 * On any failure: "NAME FAIL <reason>" on stderr and exit status 1.
 *
 * Timing uses clock_gettime(CLOCK_MONOTONIC).  A short untimed warm-up
 * (2% of ITERS, at most 10% of the time cap) precedes the timed loop.
 */
#ifndef BENCH_H
#define BENCH_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

static const char *bench_name = "bench";
static uint64_t bench_iters;
static uint64_t bench_max_ns; /* 0 = unlimited */

static inline uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static __attribute__((unused)) void bench_die(const char *what)
{
    int e = errno;
    fprintf(stderr, "%s FAIL %s: %s\n", bench_name, what, strerror(e));
    fflush(stderr);
    _exit(1);
}

static void bench_init(int argc, char **argv, const char *name, uint64_t def_iters)
{
    const char *s;
    bench_name = name;
    bench_iters = def_iters;
    s = argc > 1 ? argv[1] : getenv("BENCH_ITERS");
    if (s && *s) {
        char *end;
        unsigned long long v = strtoull(s, &end, 10);
        if (*end || v == 0) {
            fprintf(stderr, "usage: %s [ITERS>0] [MAX_SECONDS]\n", argv[0]);
            exit(2);
        }
        bench_iters = v;
    }
    s = argc > 2 ? argv[2] : getenv("BENCH_MAX_SEC");
    if (s && *s) {
        char *end;
        double v = strtod(s, &end);
        if (*end || v < 0) {
            fprintf(stderr, "usage: %s [ITERS] [MAX_SECONDS>=0]\n", argv[0]);
            exit(2);
        }
        bench_max_ns = (uint64_t)(v * 1e9);
    }
}

/* Directory for scratch files: $BENCH_DIR or /tmp. */
static __attribute__((unused)) const char *bench_dir(void)
{
    const char *d = getenv("BENCH_DIR");
    return (d && *d) ? d : "/tmp";
}

/*
 * Ensure a readable file of `size` bytes exists.  Uses $BENCH_FILE or
 * `preferred` when it exists and is large enough (the bundle ships
 * files in /bench/data); otherwise creates one in bench_dir().  Returns the path in
 * `out`; *created is set when the caller should unlink it afterwards.
 */
static __attribute__((unused)) void bench_data_file(const char *preferred, off_t size, char *out, size_t outlen,
                            int *created)
{
    struct stat st;
    const char *env = getenv("BENCH_FILE");
    const char *p = (env && *env) ? env : preferred;
    *created = 0;
    if (p && stat(p, &st) == 0 && S_ISREG(st.st_mode) && st.st_size >= size) {
        snprintf(out, outlen, "%s", p);
        return;
    }
    snprintf(out, outlen, "%s/bench_%s_%d.dat", bench_dir(), bench_name, (int)getpid());
    int fd = open(out, O_CREAT | O_TRUNC | O_WRONLY, 0644);
    if (fd < 0)
        bench_die("create data file");
    char buf[65536];
    memset(buf, 'x', sizeof buf);
    for (off_t done = 0; done < size;) {
        size_t n = (size - done) < (off_t)sizeof buf ? (size_t)(size - done) : sizeof buf;
        ssize_t w = write(fd, buf, n);
        if (w <= 0)
            bench_die("write data file");
        done += w;
    }
    if (close(fd) != 0)
        bench_die("close data file");
    *created = 1;
}

static void bench_report(uint64_t done, uint64_t elapsed)
{
    double per = done ? (double)elapsed / (double)done : 0.0;
    printf("%s ns_per_op=%.1f\n", bench_name, per);
    fflush(stdout);
    fprintf(stderr, "# %s iters=%llu elapsed_ns=%llu requested_iters=%llu max_ns=%llu\n",
            bench_name, (unsigned long long)done, (unsigned long long)elapsed,
            (unsigned long long)bench_iters, (unsigned long long)bench_max_ns);
}

/*
 * _BENCH_LOOP(N, LIMIT_NS, CHUNK, DONE, ELAPSED, body...)
 * Runs body N times (stopping early once LIMIT_NS have passed; checked every
 * CHUNK iterations).  Inside body, `BI` is the 0-based iteration index.
 */
#define _BENCH_LOOP(N, LIMIT_NS, CHUNK, DONE, ELAPSED, ...)                            \
    do {                                                                              \
        uint64_t _n = (N), _i = 0, _t0 = now_ns();                                    \
        uint64_t _lim = (LIMIT_NS) ? _t0 + (LIMIT_NS) : UINT64_MAX;                   \
        while (_i < _n) {                                                             \
            uint64_t _c = (_n - _i) < (uint64_t)(CHUNK) ? (_n - _i) : (uint64_t)(CHUNK); \
            for (uint64_t _j = 0; _j < _c; _j++) {                                    \
                uint64_t BI = _i + _j;                                                \
                (void)BI;                                                             \
                __VA_ARGS__;                                                          \
            }                                                                         \
            _i += _c;                                                                 \
            if (now_ns() >= _lim)                                                     \
                break;                                                                \
        }                                                                             \
        DONE = _i;                                                                    \
        ELAPSED = now_ns() - _t0;                                                     \
    } while (0)

/*
 * BENCH(CHUNK, body...): warm-up, timed loop, report.  Use CHUNK ~256 for
 * cheap operations and 1-8 for expensive ones (fork, exec).
 */
#define BENCH(CHUNK, ...)                                                              \
    do {                                                                              \
        uint64_t _d, _e;                                                              \
        uint64_t _w = bench_iters / 50;                                               \
        if (_w == 0)                                                                  \
            _w = 1;                                                                   \
        _BENCH_LOOP(_w, bench_max_ns / 10, CHUNK, _d, _e, __VA_ARGS__);               \
        _BENCH_LOOP(bench_iters, bench_max_ns, CHUNK, _d, _e, __VA_ARGS__);           \
        bench_report(_d, _e);                                                         \
    } while (0)

#endif /* BENCH_H */
