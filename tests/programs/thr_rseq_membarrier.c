/* rseq and membarrier as glibc and runtimes use them: whatever glibc decided about rseq
 * registration must be consistent (if registered, the kernel keeps cpu_id current and
 * sched_getcpu works), and membarrier either says ENOSYS cleanly or works as it advertises. */
#include "moat_test.h"
#include <linux/membarrier.h>
#include <pthread.h>
#include <sched.h>
#include <sys/rseq.h>
#include <sys/syscall.h>

static void *cpu_in_thread(void *a) {
    (void)a;
    return (void *)(long)(sched_getcpu() >= 0);
}

int main(void) {
    setup();
    int cpu = sched_getcpu();
    check("sched_getcpu >= 0", cpu >= 0);
    if (__rseq_size > 0) {
        struct rseq *rs = (struct rseq *)((char *)__builtin_thread_pointer() + __rseq_offset);
        check("rseq: registered area has a valid cpu_id", (int)rs->cpu_id >= 0 && (int)rs->cpu_id_start >= 0);
        /* registering again must fail with EBUSY */
        long r = syscall(SYS_rseq, rs, __rseq_size, 0, RSEQ_SIG);
        check("rseq: second registration refused", r < 0 && (errno == EBUSY || errno == EINVAL));
    } else {
        check("rseq: registered area has a valid cpu_id", 1);
        check("rseq: second registration refused", 1);
    }
    pthread_t t;
    void *r;
    pthread_create(&t, NULL, cpu_in_thread, NULL);
    pthread_join(t, &r);
    check("sched_getcpu in a new thread", (long)r);

    long q = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
    int usable;
    if (q < 0) {
        usable = errno == ENOSYS || errno == EINVAL;
    } else {
        usable = 1;
        if (q & MEMBARRIER_CMD_PRIVATE_EXPEDITED) {
            usable &= syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) < 0 && errno == EPERM;
            usable &= syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
            usable &= syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) == 0;
        }
        if (q & MEMBARRIER_CMD_GLOBAL) usable &= syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0) == 0;
        usable &= syscall(SYS_membarrier, 1 << 30, 0, 0) < 0 && errno == EINVAL;
    }
    check("membarrier: ENOSYS or works as advertised", usable);
    done();
}
