/* Copied from the project's shared OCI runtime benchmark harness (shared/bench); keep in sync with it. */
/* futex_pingpong: two threads hand a token back and forth with
 * FUTEX_WAIT/FUTEX_WAKE (private futexes).  One op = one round trip
 * (main -> partner -> main), i.e. two wake-ups. */
#include "bench.h"
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/syscall.h>

static _Atomic int turn; /* 0: main's turn, 1: partner's turn, 2: stop */

static void fwait(_Atomic int *addr, int val)
{
    if (syscall(SYS_futex, addr, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0) != 0 &&
        errno != EAGAIN && errno != EINTR)
        bench_die("futex wait");
}

static void fwake(_Atomic int *addr)
{
    if (syscall(SYS_futex, addr, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0) < 0)
        bench_die("futex wake");
}

static void *partner(void *arg)
{
    (void)arg;
    for (;;) {
        int v;
        while ((v = atomic_load(&turn)) == 0)
            fwait(&turn, 0);
        if (v == 2)
            return NULL;
        atomic_store(&turn, 0);
        fwake(&turn);
    }
}

int main(int argc, char **argv)
{
    pthread_t th;
    bench_init(argc, argv, "futex_pingpong", 100000);
    if (pthread_create(&th, NULL, partner, NULL) != 0)
        bench_die("pthread_create");
    BENCH(16, {
        atomic_store(&turn, 1);
        fwake(&turn);
        while (atomic_load(&turn) == 1)
            fwait(&turn, 1);
    });
    atomic_store(&turn, 2);
    fwake(&turn);
    pthread_join(th, NULL);
    return 0;
}
