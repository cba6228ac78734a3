/* Priority-inheritance mutexes: contended locking (FUTEX_LOCK_PI/UNLOCK_PI), trylock and
 * timedlock on a held PI mutex, process-shared PI mutexes across fork. */
#include "moat_test.h"
#include <linux/futex.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/syscall.h>

static pthread_mutex_t pi;
static long counter;
static void *pi_worker(void *a) {
    (void)a;
    for (int i = 0; i < 5000; i++) {
        pthread_mutex_lock(&pi);
        counter++;
        pthread_mutex_unlock(&pi);
    }
    return NULL;
}
static void *pi_try(void *a) {
    (void)a;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 30000000;
    if (ts.tv_nsec >= 1000000000) ts.tv_sec++, ts.tv_nsec -= 1000000000;
    int r1 = pthread_mutex_trylock(&pi), r2 = pthread_mutex_timedlock(&pi, &ts);
    printf("PI trylock on held: %s, timedlock: %s\n", errname(r1), errname(r2));
    return NULL;
}

int main(void) {
    setup();
    pthread_mutexattr_t ma;
    pthread_mutexattr_init(&ma);
    pthread_mutexattr_setprotocol(&ma, PTHREAD_PRIO_INHERIT);
    pthread_mutex_init(&pi, &ma);
    pthread_t t[4];
    for (int i = 0; i < 3; i++) pthread_create(&t[i], NULL, pi_worker, NULL);
    for (int i = 0; i < 3; i++) pthread_join(t[i], NULL);
    printf("PI mutex counter: %ld\n", counter);
    pthread_mutex_lock(&pi);
    pthread_create(&t[0], NULL, pi_try, NULL);
    pthread_join(t[0], NULL);
    pthread_mutex_unlock(&pi);

    // Process-shared PI mutex: parent and child take turns.
    pthread_mutex_t *sm = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    long *shared_count = (long *)(sm + 1);
    pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
    pthread_mutex_init(sm, &ma);
    pid_t p = fork();
    for (int i = 0; i < 3000; i++) {
        pthread_mutex_lock(sm);
        (*shared_count)++;
        pthread_mutex_unlock(sm);
    }
    if (p == 0) _exit(0);
    reap("child", p);
    printf("shared PI counter: %ld\n", *shared_count);
    done();
}
