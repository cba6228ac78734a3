/* Synchronisation under contention: mutexes (normal, error-checking, recursive, timed),
 * condition variables (also with CLOCK_MONOTONIC and timeouts), rwlocks, barriers,
 * semaphores, spinlocks, pthread_once. */
#include "moat_test.h"
#include <pthread.h>
#include <semaphore.h>

#define N 4
#define ITER 20000
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static long counter;
static void *inc(void *a) {
    (void)a;
    for (int i = 0; i < ITER; i++) {
        pthread_mutex_lock(&mu);
        counter++;
        pthread_mutex_unlock(&mu);
    }
    return NULL;
}

static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int queue[16], qh, qt, qn;
static void *producer(void *a) {
    (void)a;
    for (int i = 1; i <= 1000; i++) {
        pthread_mutex_lock(&mu);
        while (qn == 16) pthread_cond_wait(&cv, &mu);
        queue[qt] = i;
        qt = (qt + 1) % 16;
        qn++;
        pthread_cond_broadcast(&cv);
        pthread_mutex_unlock(&mu);
    }
    return NULL;
}
static void *consumer(void *a) {
    long sum = 0;
    for (int i = 0; i < 500; i++) {
        pthread_mutex_lock(&mu);
        while (qn == 0) pthread_cond_wait(&cv, &mu);
        sum += queue[qh];
        qh = (qh + 1) % 16;
        qn--;
        pthread_cond_broadcast(&cv);
        pthread_mutex_unlock(&mu);
    }
    *(long *)a = sum;
    return NULL;
}

static pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
static long shared_val;
static void *rw_worker(void *a) {
    long id = (long)a, seen = 0;
    for (int i = 0; i < 2000; i++) {
        if (i % 10 == id) {
            pthread_rwlock_wrlock(&rw);
            shared_val++;
            pthread_rwlock_unlock(&rw);
        } else {
            pthread_rwlock_rdlock(&rw);
            seen += shared_val >= 0;
            pthread_rwlock_unlock(&rw);
        }
    }
    return (void *)seen;
}

static pthread_barrier_t bar;
static int round_count[5];
static pthread_mutex_t bm = PTHREAD_MUTEX_INITIALIZER;
static void *barrier_worker(void *a) {
    (void)a;
    int serial = 0, ok = 1;
    for (int r = 0; r < 5; r++) {
        pthread_mutex_lock(&bm);
        round_count[r]++;
        pthread_mutex_unlock(&bm);
        if (pthread_barrier_wait(&bar) == PTHREAD_BARRIER_SERIAL_THREAD) serial++;
        pthread_mutex_lock(&bm);
        if (round_count[r] != N) ok = 0;
        pthread_mutex_unlock(&bm);
        pthread_barrier_wait(&bar);
    }
    return (void *)(long)(serial * 10 + ok);
}

static sem_t sem;
static long sem_count;
static void *sem_worker(void *a) {
    (void)a;
    for (int i = 0; i < 1000; i++) {
        sem_wait(&sem);
        sem_count++;
        sem_post(&sem);
    }
    return NULL;
}

static pthread_spinlock_t spin;
static long spin_count;
static void *spin_worker(void *a) {
    (void)a;
    for (int i = 0; i < 10000; i++) {
        pthread_spin_lock(&spin);
        spin_count++;
        pthread_spin_unlock(&spin);
    }
    return NULL;
}

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int once_runs;
static void once_fn(void) { once_runs++; }
static void *once_worker(void *a) {
    (void)a;
    pthread_once(&once, once_fn);
    return NULL;
}

static pthread_mutex_t held = PTHREAD_MUTEX_INITIALIZER;
static void *try_timed(void *a) {
    (void)a;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 30 * 1000000;
    if (ts.tv_nsec >= 1000000000) ts.tv_sec++, ts.tv_nsec -= 1000000000;
    int r1 = pthread_mutex_trylock(&held);
    int r2 = pthread_mutex_timedlock(&held, &ts);
    return (void *)(long)(r1 == EBUSY && r2 == ETIMEDOUT);
}

static void run(void *(*fn)(void *), int n, void **res) {
    pthread_t t[8];
    for (long i = 0; i < n; i++) pthread_create(&t[i], NULL, fn, res ? res[i] : (void *)i);
    for (int i = 0; i < n; i++) pthread_join(t[i], NULL);
}

int main(void) {
    setup();
    run(inc, N, NULL);
    printf("mutex counter: %ld\n", counter);

    long s1 = 0, s2 = 0;
    pthread_t p, c1, c2;
    pthread_create(&c1, NULL, consumer, &s1);
    pthread_create(&c2, NULL, consumer, &s2);
    pthread_create(&p, NULL, producer, NULL);
    pthread_join(p, NULL);
    pthread_join(c1, NULL);
    pthread_join(c2, NULL);
    printf("condvar queue sum: %ld\n", s1 + s2);

    pthread_t t[8];
    long seen = 0;
    for (long i = 0; i < N; i++) pthread_create(&t[i], NULL, rw_worker, (void *)i);
    for (int i = 0; i < N; i++) {
        void *r;
        pthread_join(t[i], &r);
        seen += (long)r;
    }
    printf("rwlock: writes %ld, reads %ld\n", shared_val, seen);

    pthread_barrier_init(&bar, NULL, N);
    long serial = 0, allok = 1;
    for (long i = 0; i < N; i++) pthread_create(&t[i], NULL, barrier_worker, NULL);
    for (int i = 0; i < N; i++) {
        void *r;
        pthread_join(t[i], &r);
        serial += (long)r / 10;
        allok &= (long)r % 10;
    }
    printf("barrier: serial threads %ld, every round complete %s\n", serial, allok ? "yes" : "no");

    sem_init(&sem, 0, 1);
    run(sem_worker, N, NULL);
    printf("semaphore counter: %ld\n", sem_count);
    int sv;
    sem_getvalue(&sem, &sv);
    printf("semaphore value: %d\n", sv);
    sem_wait(&sem);
    errno = 0;
    printf("sem_trywait on 0: %s\n", sem_trywait(&sem) < 0 ? errname(errno) : "ok");
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 20000000;
    if (ts.tv_nsec >= 1000000000) ts.tv_sec++, ts.tv_nsec -= 1000000000;
    printf("sem_timedwait on 0: %s\n", sem_timedwait(&sem, &ts) < 0 ? errname(errno) : "ok");

    pthread_spin_init(&spin, 0);
    run(spin_worker, N, NULL);
    printf("spinlock counter: %ld\n", spin_count);
    run(once_worker, N, NULL);
    printf("pthread_once ran: %d\n", once_runs);

    pthread_mutex_lock(&held);
    pthread_create(&t[0], NULL, try_timed, NULL);
    void *r;
    pthread_join(t[0], &r);
    pthread_mutex_unlock(&held);
    check("trylock EBUSY and timedlock ETIMEDOUT on a held mutex", (long)r);

    pthread_mutexattr_t ma;
    pthread_mutexattr_init(&ma);
    pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_ERRORCHECK);
    pthread_mutex_t em;
    pthread_mutex_init(&em, &ma);
    pthread_mutex_lock(&em);
    printf("errorcheck relock: %s\n", errname(pthread_mutex_lock(&em)));
    pthread_mutex_unlock(&em);
    printf("errorcheck unlock unlocked: %s\n", errname(pthread_mutex_unlock(&em)));
    pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_t rm;
    pthread_mutex_init(&rm, &ma);
    int rr = pthread_mutex_lock(&rm) | pthread_mutex_lock(&rm) | pthread_mutex_unlock(&rm) | pthread_mutex_unlock(&rm);
    printf("recursive lock twice: %s\n", rr == 0 ? "ok" : "fail");

    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_t mcv;
    pthread_cond_init(&mcv, &ca);
    clock_gettime(CLOCK_MONOTONIC, &ts);
    long t0 = now_ms(CLOCK_MONOTONIC);
    ts.tv_nsec += 50000000;
    if (ts.tv_nsec >= 1000000000) ts.tv_sec++, ts.tv_nsec -= 1000000000;
    pthread_mutex_lock(&mu);
    int tw = pthread_cond_timedwait(&mcv, &mu, &ts);
    pthread_mutex_unlock(&mu);
    printf("cond_timedwait (monotonic): %s, waited >= 45ms: %s\n", errname(tw), now_ms(CLOCK_MONOTONIC) - t0 >= 45 ? "yes" : "no");
    done();
}
