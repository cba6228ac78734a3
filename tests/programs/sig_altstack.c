/* sigaltstack: set/query, SA_ONSTACK handlers run on the alternate stack with SS_ONSTACK
 * reported inside, EPERM when changing it while on it, ENOMEM for a too small stack,
 * SS_DISABLE, a stack overflow caught on the alternate stack, threads start without one,
 * fork keeps it. */
#include "moat_test.h"
#include <pthread.h>
#include <sys/mman.h>

static char *alt_lo, *alt_hi;
static volatile int on_alt, flags_inside, change_err;

static void handler(int s) {
    (void)s;
    char here;
    on_alt = &here >= alt_lo && &here < alt_hi;
    stack_t cur;
    sigaltstack(NULL, &cur);
    flags_inside = cur.ss_flags;
    stack_t other = {.ss_sp = alt_lo, .ss_size = alt_hi - alt_lo, .ss_flags = 0};
    change_err = sigaltstack(&other, NULL) < 0 ? errno : 0;
}

static volatile int depth;
#pragma GCC diagnostic ignored "-Winfinite-recursion"
static int recurse(int n) {
    volatile char pad[1024];
    pad[0] = (char)n;
    depth = n;
    return recurse(n + 1) + pad[0];
}
static void on_segv(int s) {
    (void)s;
    char here;
    _exit(&here >= alt_lo && &here < alt_hi ? 33 : 34);
}

static void *thread_alt(void *a) {
    (void)a;
    stack_t cur;
    sigaltstack(NULL, &cur);
    return (void *)(long)cur.ss_flags;
}

int main(void) {
    setup();
    stack_t cur;
    sigaltstack(NULL, &cur);
    printf("initially disabled: %s\n", cur.ss_flags == SS_DISABLE ? "yes" : "no");
    size_t sz = 64 * 1024;
    alt_lo = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    alt_hi = alt_lo + sz;
    stack_t ss = {.ss_sp = alt_lo, .ss_size = sz, .ss_flags = 0};
    rep("sigaltstack set", sigaltstack(&ss, NULL));
    sigaltstack(NULL, &cur);
    printf("query: sp ok=%d size=%zu flags=%d\n", cur.ss_sp == alt_lo, cur.ss_size, cur.ss_flags);
    stack_t small = {.ss_sp = alt_lo, .ss_size = 512, .ss_flags = 0};
    rep_err("too small", sigaltstack(&small, NULL));
    stack_t badf = {.ss_sp = alt_lo, .ss_size = sz, .ss_flags = 0x1234};
    rep_err("bad flags", sigaltstack(&badf, NULL));

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sa.sa_flags = SA_ONSTACK;
    sigaction(SIGUSR1, &sa, NULL);
    raise(SIGUSR1);
    printf("SA_ONSTACK handler on the alternate stack: %d, SS_ONSTACK inside: %d, change inside: %s\n", on_alt,
           !!(flags_inside & SS_ONSTACK), errname(change_err));
    sa.sa_flags = 0;
    sigaction(SIGUSR1, &sa, NULL);
    raise(SIGUSR1);
    printf("without SA_ONSTACK: on the alternate stack: %d\n", on_alt);

    pthread_t t;
    void *r;
    pthread_create(&t, NULL, thread_alt, NULL);
    pthread_join(t, &r);
    printf("a new thread has no alternate stack: %s\n", (long)r == SS_DISABLE ? "yes" : "no");

    pid_t p = fork();
    if (p == 0) {
        /* the alternate stack is inherited; overflow the main stack */
        struct sigaction s2;
        memset(&s2, 0, sizeof s2);
        s2.sa_handler = on_segv;
        s2.sa_flags = SA_ONSTACK;
        sigaction(SIGSEGV, &s2, NULL);
        recurse(0);
        _exit(0);
    }
    reap("stack overflow caught on the alternate stack (33)", p);
    p = fork();
    if (p == 0) {
        struct sigaction s2;
        memset(&s2, 0, sizeof s2);
        s2.sa_handler = on_segv;
        sigaction(SIGSEGV, &s2, NULL);
        stack_t off = {.ss_flags = SS_DISABLE};
        sigaltstack(&off, NULL);
        recurse(0);
        _exit(0);
    }
    reap("stack overflow without an alternate stack", p);

    stack_t off = {.ss_flags = SS_DISABLE};
    rep("SS_DISABLE", sigaltstack(&off, NULL));
    sigaltstack(NULL, &cur);
    printf("now disabled: %s\n", cur.ss_flags == SS_DISABLE ? "yes" : "no");
    done();
}
