/* Raw futex operations: WAIT (value mismatch, timeouts), WAKE counts, WAIT_BITSET/WAKE_BITSET,
 * absolute timeouts on both clocks, REQUEUE and CMP_REQUEUE, WAKE_OP, shared futexes across
 * processes and private ones that must not match across address spaces, errors. */
#include "moat_test.h"
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/syscall.h>

static long fx(void *u, int op, int val, const struct timespec *ts, void *u2, int val3) {
    return syscall(SYS_futex, u, op, val, ts, u2, val3);
}

static int f1, f2;
static atomic_int ready, woke;
static void *waiter(void *a) {
    int *f = a;
    atomic_fetch_add(&ready, 1);
    while (__atomic_load_n(f, __ATOMIC_SEQ_CST) == 0) fx(f, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
    atomic_fetch_add(&woke, 1);
    return NULL;
}
static int bits;
static void *bit_waiter(void *a) {
    (void)a;
    atomic_fetch_add(&ready, 1);
    long r = fx(&bits, FUTEX_WAIT_BITSET_PRIVATE, 0, NULL, NULL, 0x1);
    atomic_fetch_add(&woke, 1);
    return (void *)r;
}

static void wait_ready(int n) {
    while (atomic_load(&ready) < n) sched_yield();
    sleep_ms(100); /* let them reach FUTEX_WAIT */
}

int main(void) {
    setup();
    int v = 1;
    rep_err("WAIT with a different value", fx(&v, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0));
    struct timespec to = {0, 20000000};
    long t0 = now_ms(CLOCK_MONOTONIC);
    rep_err("WAIT with a 20ms timeout", fx(&v, FUTEX_WAIT_PRIVATE, 1, &to, NULL, 0));
    check("... waited >= 15ms", now_ms(CLOCK_MONOTONIC) - t0 >= 15);
    printf("WAKE without waiters: %ld\n", fx(&v, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0));

    // WAKE counts.
    pthread_t t[4];
    for (int i = 0; i < 3; i++) pthread_create(&t[i], NULL, waiter, &f1);
    wait_ready(3);
    printf("WAKE 2 of 3 (value unchanged, so they wait again): %ld\n", fx(&f1, FUTEX_WAKE_PRIVATE, 2, NULL, NULL, 0));
    sleep_ms(50);
    __atomic_store_n(&f1, 1, __ATOMIC_SEQ_CST);
    long w = 0;
    while (atomic_load(&woke) < 3) {
        w += fx(&f1, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
        sched_yield();
    }
    for (int i = 0; i < 3; i++) pthread_join(t[i], NULL);
    printf("all 3 woken: yes\n");

    // Bitsets.
    atomic_store(&ready, 0);
    atomic_store(&woke, 0);
    pthread_create(&t[0], NULL, bit_waiter, NULL);
    wait_ready(1);
    printf("WAKE_BITSET 0x2 to a 0x1 waiter: %ld\n", fx(&bits, FUTEX_WAKE_BITSET_PRIVATE, 1, NULL, NULL, 0x2));
    printf("WAKE_BITSET 0x3: %ld\n", fx(&bits, FUTEX_WAKE_BITSET_PRIVATE, 1, NULL, NULL, 0x3));
    void *r;
    pthread_join(t[0], &r);
    printf("bitset waiter returned: %ld\n", (long)r);
    rep_err("WAIT_BITSET with bitset 0", fx(&bits, FUTEX_WAIT_BITSET_PRIVATE, 0, NULL, NULL, 0));

    // Absolute timeouts.
    struct timespec abs;
    clock_gettime(CLOCK_MONOTONIC, &abs);
    abs.tv_nsec += 30000000;
    if (abs.tv_nsec >= 1000000000) abs.tv_sec++, abs.tv_nsec -= 1000000000;
    t0 = now_ms(CLOCK_MONOTONIC);
    rep_err("WAIT_BITSET absolute CLOCK_MONOTONIC", fx(&bits, FUTEX_WAIT_BITSET_PRIVATE, 0, &abs, NULL, FUTEX_BITSET_MATCH_ANY));
    check("... waited >= 25ms", now_ms(CLOCK_MONOTONIC) - t0 >= 25);
    clock_gettime(CLOCK_REALTIME, &abs);
    abs.tv_nsec += 30000000;
    if (abs.tv_nsec >= 1000000000) abs.tv_sec++, abs.tv_nsec -= 1000000000;
    rep_err("WAIT_BITSET absolute CLOCK_REALTIME",
            fx(&bits, FUTEX_WAIT_BITSET_PRIVATE | FUTEX_CLOCK_REALTIME, 0, &abs, NULL, FUTEX_BITSET_MATCH_ANY));
    clock_gettime(CLOCK_MONOTONIC, &abs);
    abs.tv_sec -= 1;
    rep_err("absolute timeout in the past", fx(&bits, FUTEX_WAIT_BITSET_PRIVATE, 0, &abs, NULL, FUTEX_BITSET_MATCH_ANY));

    // REQUEUE / CMP_REQUEUE.
    f1 = 0;
    f2 = 0;
    atomic_store(&ready, 0);
    atomic_store(&woke, 0);
    for (int i = 0; i < 3; i++) pthread_create(&t[i], NULL, waiter, &f1);
    wait_ready(3);
    rep_err("CMP_REQUEUE with a stale value", fx(&f1, FUTEX_CMP_REQUEUE_PRIVATE, 1, (void *)2L, &f2, 5));
    printf("CMP_REQUEUE wake 1, requeue 2: %ld\n", fx(&f1, FUTEX_CMP_REQUEUE_PRIVATE, 1, (void *)2L, &f2, 0));
    sleep_ms(50);
    printf("WAKE on the old futex: %ld\n", fx(&f1, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0));
    printf("WAKE on the new futex: %ld\n", fx(&f2, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0));
    __atomic_store_n(&f1, 1, __ATOMIC_SEQ_CST);
    while (atomic_load(&woke) < 3) {
        fx(&f1, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
        fx(&f2, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
        sched_yield();
    }
    for (int i = 0; i < 3; i++) pthread_join(t[i], NULL);
    f1 = 0;
    atomic_store(&ready, 0);
    atomic_store(&woke, 0);
    for (int i = 0; i < 2; i++) pthread_create(&t[i], NULL, waiter, &f1);
    wait_ready(2);
    printf("REQUEUE wake 0, requeue all: %ld\n", fx(&f1, FUTEX_REQUEUE_PRIVATE, 0, (void *)(long)INT_MAX, &f2, 0));
    __atomic_store_n(&f1, 1, __ATOMIC_SEQ_CST);
    printf("WAKE the requeued: %ld\n", fx(&f2, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0));
    for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);

    // WAKE_OP: *uaddr2 = old + 5; wake uaddr2's waiters if old == 0.
    int a = 0, b = 0;
    int op = FUTEX_OP(FUTEX_OP_ADD, 5, FUTEX_OP_CMP_EQ, 0);
    long wo = fx(&a, FUTEX_WAKE_OP_PRIVATE, 1, (void *)1L, &b, op);
    printf("WAKE_OP: %ld, uaddr2 now %d\n", wo, b);
    wo = fx(&a, FUTEX_WAKE_OP_PRIVATE, 1, (void *)1L, &b, op);
    printf("WAKE_OP again (cmp false): %ld, uaddr2 now %d\n", wo, b);

    // Shared futex across processes; a private wait does not see a wake from another process.
    int *sh = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    pid_t p = fork();
    if (p == 0) {
        long rr = fx(&sh[0], FUTEX_WAIT, 0, NULL, NULL, 0);
        _exit(rr == 0 && sh[0] == 1 ? 0 : 1);
    }
    sleep_ms(100);
    sh[0] = 1;
    long n = 0;
    while (waitpid(p, NULL, WNOHANG) == 0) {
        n += fx(&sh[0], FUTEX_WAKE, 1, NULL, NULL, 0);
        sleep_ms(5);
    }
    printf("shared futex woke the child: %s\n", n >= 1 ? "yes" : "no");
    p = fork();
    if (p == 0) {
        struct timespec t2 = {0, 200000000};
        long rr = fx(&sh[1], FUTEX_WAIT_PRIVATE, 0, &t2, NULL, 0);
        _exit(rr < 0 && errno == ETIMEDOUT ? 0 : 1);
    }
    sleep_ms(50);
    printf("private wake across processes wakes: %ld\n", fx(&sh[1], FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0));
    reap("private waiter (times out)", p);

    rep_err("unaligned address", fx((char *)&v + 1, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0));
    rep_err("NULL address", fx(NULL, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0));
    rep_err("unknown op", fx(&v, 99, 0, NULL, NULL, 0));
    struct timespec bad = {0, 2000000000};
    rep_err("bad timeout", fx(&v, FUTEX_WAIT_PRIVATE, 1, &bad, NULL, 0));
    done();
}
