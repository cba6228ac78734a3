/* Signals and threads: masks are per thread (a process-directed signal goes to a thread that
 * does not block it), pending sets per thread and per process, pthread_kill, sigwait in a
 * dedicated thread, a signal blocked everywhere stays pending until some thread unblocks it,
 * pthread_sigmask inheritance by new threads. */
#include "moat_test.h"
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <sys/syscall.h>

static atomic_long handled_by;
static void on_sig(int s) {
    (void)s;
    atomic_store(&handled_by, syscall(SYS_gettid));
}

static atomic_long worker_tid;
static atomic_int stop;
static void *unblocked_worker(void *a) {
    (void)a;
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR1);
    pthread_sigmask(SIG_UNBLOCK, &s, NULL);
    atomic_store(&worker_tid, syscall(SYS_gettid));
    while (!atomic_load(&stop)) sched_yield();
    return NULL;
}

static void *inherits(void *a) {
    (void)a;
    sigset_t cur;
    pthread_sigmask(SIG_SETMASK, NULL, &cur);
    return (void *)(long)(sigismember(&cur, SIGUSR2) * 10 + sigismember(&cur, SIGUSR1));
}

static sem_t pend_sem, pend_go;
static void *pending_reporter(void *a) {
    (void)a;
    sem_wait(&pend_go);
    sigset_t p;
    sigpending(&p);
    long r = sigismember(&p, SIGUSR2) * 10 + sigismember(&p, SIGTERM);
    sem_post(&pend_sem);
    sem_wait(&pend_go);
    return (void *)r;
}

static void *waiter(void *a) {
    (void)a;
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGINT);
    int sig = 0;
    sigwait(&s, &sig);
    return (void *)(long)sig;
}

int main(void) {
    setup();
    struct sigaction sa = {0};
    sa.sa_handler = on_sig;
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGUSR2, &sa, NULL);

    // Block SIGUSR1 in main; a process-directed SIGUSR1 goes to the one thread that takes it.
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &s, NULL);
    pthread_t t;
    pthread_create(&t, NULL, unblocked_worker, NULL);
    while (!atomic_load(&worker_tid)) sched_yield();
    kill(getpid(), SIGUSR1);
    while (!atomic_load(&handled_by)) sched_yield();
    check("process-directed signal handled by the unblocked thread", atomic_load(&handled_by) == atomic_load(&worker_tid));
    atomic_store(&stop, 1);
    pthread_join(t, NULL);

    // New threads inherit the creator's mask.
    sigaddset(&s, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &s, NULL);
    void *r;
    pthread_create(&t, NULL, inherits, NULL);
    pthread_join(t, &r);
    printf("new thread's mask has SIGUSR2,SIGUSR1: %ld\n", (long)r);

    // Thread-directed pending is visible only to that thread; process-directed to all.
    sem_init(&pend_sem, 0, 0);
    sem_init(&pend_go, 0, 0);
    pthread_create(&t, NULL, pending_reporter, NULL);
    pthread_kill(pthread_self(), SIGUSR2); /* pending on main only */
    sigaddset(&s, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &s, NULL); /* the new thread has SIGTERM unblocked... */
    sigset_t p;
    sigpending(&p);
    printf("main pending: SIGUSR2=%d SIGTERM=%d\n", sigismember(&p, SIGUSR2), sigismember(&p, SIGTERM));
    sem_post(&pend_go);
    sem_wait(&pend_sem);
    sem_post(&pend_go);
    pthread_join(t, &r);
    printf("other thread pending: SIGUSR2,SIGTERM = %ld\n", (long)r);

    // A signal blocked in every thread stays pending for the process; the thread that
    // unblocks it takes it.
    atomic_store(&handled_by, 0);
    kill(getpid(), SIGUSR1);
    sigpending(&p);
    printf("process-pending SIGUSR1 while all block it: %d\n", sigismember(&p, SIGUSR1));
    printf("handled yet: %s\n", atomic_load(&handled_by) ? "yes" : "no");
    sigset_t u;
    sigemptyset(&u);
    sigaddset(&u, SIGUSR1);
    pthread_sigmask(SIG_UNBLOCK, &u, NULL);
    check("taken by main once unblocked", atomic_load(&handled_by) == syscall(SYS_gettid));
    atomic_store(&handled_by, 0);
    pthread_sigmask(SIG_UNBLOCK, &s, NULL); /* the pending SIGUSR2 to main runs now */
    check("thread-directed SIGUSR2 delivered to main", atomic_load(&handled_by) == syscall(SYS_gettid));

    // sigwait in a dedicated thread; everyone else blocks SIGINT.
    sigemptyset(&s);
    sigaddset(&s, SIGINT);
    pthread_sigmask(SIG_BLOCK, &s, NULL);
    pthread_create(&t, NULL, waiter, NULL);
    sleep_ms(50);
    kill(getpid(), SIGINT);
    pthread_join(t, &r);
    printf("sigwait thread got: %s\n", sigabbrev_np((int)(long)r));
    printf("pthread_sigmask bad how: %s\n", errname(pthread_sigmask(99, &s, NULL)));
    printf("pthread_kill with signal 0 to self: %s\n", errname(pthread_kill(pthread_self(), 0)));
    done();
}
