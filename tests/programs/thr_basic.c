/* pthreads: create/join with results, TLS (fs_base per thread), custom stacks and stack
 * sizes, detached threads, thread names in /proc, thread-specific data destructors, many
 * threads, cancellation of a thread blocked in read(2). */
#include "moat_test.h"
#include <asm/prctl.h>
#include <pthread.h>
#include <semaphore.h>
#include <sys/mman.h>
#include <sys/syscall.h>

static __thread long tls_counter = 100;
static __thread char tls_buf[64];

static void *sum_range(void *a) {
    long n = (long)a, s = 0;
    for (long i = n * 1000; i < (n + 1) * 1000; i++) s += i;
    tls_counter += n;
    snprintf(tls_buf, sizeof tls_buf, "thread %ld", n);
    return (void *)(s + (tls_counter == 100 + n ? 0 : 1000000000L));
}

static void *fsbase(void *a) {
    (void)a;
    unsigned long fs = 0;
    syscall(SYS_arch_prctl, ARCH_GET_FS, &fs);
    return (void *)(long)(fs == (unsigned long)pthread_self());
}

static char *stack_lo, *stack_hi;
static void *on_stack(void *a) {
    (void)a;
    char here;
    return (void *)(long)(&here >= stack_lo && &here < stack_hi);
}

static sem_t detached_done;
static void *detached(void *a) {
    (void)a;
    sem_post(&detached_done);
    return NULL;
}

static pthread_key_t key;
static int destructed;
static pthread_mutex_t dm = PTHREAD_MUTEX_INITIALIZER;
static void destructor(void *v) {
    pthread_mutex_lock(&dm);
    destructed += (int)(long)v;
    pthread_mutex_unlock(&dm);
}
static void *with_key(void *a) {
    pthread_setspecific(key, a);
    return NULL;
}

static void *named(void *a) {
    (void)a;
    pthread_setname_np(pthread_self(), "worker-x");
    char path[64], name[32] = {0};
    snprintf(path, sizeof path, "/proc/self/task/%ld/comm", (long)syscall(SYS_gettid));
    FILE *f = fopen(path, "r");
    if (f) {
        if (!fgets(name, sizeof name, f)) name[0] = 0;
        fclose(f);
    }
    name[strcspn(name, "\n")] = 0;
    printf("thread comm via /proc: %s\n", name);
    char got[32];
    pthread_getname_np(pthread_self(), got, sizeof got);
    printf("pthread_getname_np: %s\n", got);
    return NULL;
}

static int cpipe[2];
static void *blocked(void *a) {
    (void)a;
    char c;
    if (read(cpipe[0], &c, 1) >= 0) printf("read returned: unexpected\n");
    return (void *)1;
}
static void *nothing(void *a) { return a; }

int main(void) {
    setup();
    pthread_t t[8];
    for (long i = 0; i < 8; i++) pthread_create(&t[i], NULL, sum_range, (void *)i);
    long total = 0;
    for (int i = 0; i < 8; i++) {
        void *r;
        pthread_join(t[i], &r);
        total += (long)r;
    }
    printf("sum over 8 threads: %ld\n", total);
    printf("main TLS untouched: %ld '%s'\n", tls_counter, tls_buf);

    void *r;
    pthread_create(&t[0], NULL, fsbase, NULL);
    pthread_join(t[0], &r);
    check("thread fs_base == pthread_self()", (long)r);
    check("main fs_base == pthread_self()", (long)fsbase(NULL));

    size_t sz = 256 * 1024;
    stack_lo = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    stack_hi = stack_lo + sz;
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setstack(&at, stack_lo, sz);
    pthread_create(&t[0], &at, on_stack, NULL);
    pthread_join(t[0], &r);
    check("thread runs on the stack it was given", (long)r);
    pthread_attr_init(&at);
    pthread_attr_setstacksize(&at, 1 << 20);
    rep("create with a 1 MiB stack", -pthread_create(&t[0], &at, nothing, NULL));
    pthread_join(t[0], NULL);

    sem_init(&detached_done, 0, 0);
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    for (int i = 0; i < 4; i++) pthread_create(&t[i], &at, detached, NULL);
    for (int i = 0; i < 4; i++) sem_wait(&detached_done);
    printf("detached threads ran: 4\n");

    pthread_key_create(&key, destructor);
    for (long i = 0; i < 4; i++) pthread_create(&t[i], NULL, with_key, (void *)(i + 1));
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    printf("TSD destructors sum: %d\n", destructed);

    pthread_create(&t[0], NULL, named, NULL);
    pthread_join(t[0], NULL);

    pthread_t many[64];
    int created = 0;
    for (long i = 0; i < 64; i++)
        if (pthread_create(&many[i], NULL, nothing, (void *)i) == 0) created++;
    long s = 0;
    for (int i = 0; i < created; i++) {
        pthread_join(many[i], &r);
        s += (long)r;
    }
    printf("64 threads: created %d, results sum %ld\n", created, s);

    pipe(cpipe);
    pthread_create(&t[0], NULL, blocked, NULL);
    sleep_ms(50);
    pthread_cancel(t[0]);
    pthread_join(t[0], &r);
    check("cancelled thread blocked in read joins as PTHREAD_CANCELED", r == PTHREAD_CANCELED);
    check("join of self is EDEADLK", pthread_join(pthread_self(), NULL) == EDEADLK);
    done();
}
