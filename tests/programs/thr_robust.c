/* Robust mutexes whose owner thread or process dies: the kernel walks the robust list that
 * set_robust_list registered (EOWNERDEAD, then consistent or ENOTRECOVERABLE), robust+PI,
 * a waiter woken by the owner's death, get_robust_list/set_robust_list. */
#include "moat_test.h"
#include <linux/futex.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/syscall.h>

static pthread_mutex_t *rob;
static void *die_holding(void *a) {
    pthread_mutex_lock((pthread_mutex_t *)a);
    return NULL; /* exits without unlocking */
}

static void init_robust(pthread_mutex_t *m, int shared, int pi_too) {
    pthread_mutexattr_t ma;
    pthread_mutexattr_init(&ma);
    pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST);
    if (shared) pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
    if (pi_too) pthread_mutexattr_setprotocol(&ma, PTHREAD_PRIO_INHERIT);
    pthread_mutex_init(m, &ma);
}

int main(void) {
    setup();
    pthread_t t[1];
    // Robust, owner thread dies.
    pthread_mutex_t m1;
    init_robust(&m1, 0, 0);
    pthread_create(&t[0], NULL, die_holding, &m1);
    pthread_join(t[0], NULL);
    int r = pthread_mutex_lock(&m1);
    printf("robust lock after owner thread died: %s\n", errname(r));
    if (r == EOWNERDEAD) printf("consistent: %s\n", errname(pthread_mutex_consistent(&m1)));
    pthread_mutex_unlock(&m1);
    printf("relock: %s\n", errname(pthread_mutex_lock(&m1)));
    pthread_mutex_unlock(&m1);

    // Robust, made unrecoverable by unlocking without marking it consistent.
    pthread_mutex_t m2;
    init_robust(&m2, 0, 0);
    pthread_create(&t[0], NULL, die_holding, &m2);
    pthread_join(t[0], NULL);
    printf("second robust mutex: %s\n", errname(pthread_mutex_lock(&m2)));
    pthread_mutex_unlock(&m2);
    printf("after unlock without consistent: %s\n", errname(pthread_mutex_lock(&m2)));

    // Robust + PI, owner thread dies.
    pthread_mutex_t m3;
    init_robust(&m3, 0, 1);
    pthread_create(&t[0], NULL, die_holding, &m3);
    pthread_join(t[0], NULL);
    r = pthread_mutex_lock(&m3);
    printf("robust PI after owner died: %s\n", errname(r));
    if (r == EOWNERDEAD) pthread_mutex_consistent(&m3);
    pthread_mutex_unlock(&m3);

    // Robust, process-shared, the owner process dies (also while we wait for it).
    rob = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    init_robust(rob, 1, 0);
    pid_t p = fork();
    if (p == 0) {
        pthread_mutex_lock(rob);
        _exit(0);
    }
    reap("owner process", p);
    r = pthread_mutex_lock(rob);
    printf("shared robust after owner process died: %s\n", errname(r));
    if (r == EOWNERDEAD) pthread_mutex_consistent(rob);
    pthread_mutex_unlock(rob);
    int go[2];
    pipe(go);
    p = fork();
    if (p == 0) {
        pthread_mutex_lock(rob);
        write(go[1], "x", 1);
        sleep_ms(100);
        _exit(0);
    }
    char c;
    read(go[0], &c, 1);
    r = pthread_mutex_lock(rob); /* blocks until the owner dies */
    printf("waiter woken by owner's death: %s\n", errname(r));
    if (r == EOWNERDEAD) pthread_mutex_consistent(rob);
    pthread_mutex_unlock(rob);
    reap("second owner", p);

    struct robust_list_head *head = NULL;
    size_t len = 0;
    long g = syscall(SYS_get_robust_list, 0, &head, &len);
    printf("get_robust_list: %s len=%zu head set: %s\n", g == 0 ? "ok" : errname(errno), len, head ? "yes" : "no");
    rep_err("set_robust_list bad len", syscall(SYS_set_robust_list, head, 7));
    rep_err("get_robust_list of a missing tid", syscall(SYS_get_robust_list, 999999, &head, &len));
    done();
}
