/* Raw thread creation: clone with the thread flags, CLONE_SETTLS, CLONE_PARENT_SETTID and the
 * CLONE_CHILD_CLEARTID futex wake at thread exit; clone3 for a thread and for a fork, and its
 * errors; set_tid_address; gettid/tgkill (the signal runs in the target thread); sched_yield,
 * sched_getaffinity/setaffinity, sched_getcpu and scheduler queries. */
#include "moat_test.h"
#include <linux/futex.h>
#include <linux/sched.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>

/* long raw_clone3(struct clone_args *, size_t, int (*fn)(void *), void *arg): the child runs
 * fn(arg) on its new stack and exits the thread with its result. */
long raw_clone3(struct clone_args *, size_t, int (*)(void *), void *);
__asm__(".text\n.globl raw_clone3\n.type raw_clone3,@function\nraw_clone3:\n"
        "  mov %rdx, %r8\n  mov %rcx, %r9\n  mov $435, %eax\n  syscall\n"
        "  test %rax, %rax\n  jnz 1f\n"
        "  xor %ebp, %ebp\n  mov %r9, %rdi\n  call *%r8\n"
        "  mov %eax, %edi\n  mov $60, %eax\n  syscall\n  hlt\n"
        "1: ret\n");

static long raw_sys(long n, long a, long b) {
    long r;
    __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b) : "rcx", "r11", "memory");
    return r;
}

static volatile int shared_flag;
static volatile long seen_tls, seen_tid;
static long tls_block[8];

static int child_fn(void *arg) {
    long fs0;
    __asm__ volatile("mov %%fs:0, %0" : "=r"(fs0));
    seen_tls = fs0;
    seen_tid = raw_sys(SYS_gettid, 0, 0);
    shared_flag = (int)(long)arg;
    return 0;
}

static void wait_cleared(volatile pid_t *ctid) {
    while (*ctid != 0) syscall(SYS_futex, ctid, FUTEX_WAIT, *ctid, NULL, NULL, 0);
}

static volatile long handler_tid;
static void on_usr1(int s) {
    (void)s;
    handler_tid = syscall(SYS_gettid);
}
static volatile long target_tid;
static volatile int stop;
static void *spinner(void *a) {
    (void)a;
    target_tid = syscall(SYS_gettid);
    while (!stop) sched_yield();
    return NULL;
}

int main(void) {
    setup();
    size_t ss = 64 * 1024;
    char *stack = mmap(NULL, ss, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    // glibc's clone(): thread flags, own TLS, parent/child tid words.
    tls_block[0] = 0x7e57; /* %fs:0 in the child */
    volatile pid_t ptid = 0, ctid = -1; /* CHILD_SETTID overwrites, CHILD_CLEARTID zeroes */
    int flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM | CLONE_SETTLS |
                CLONE_PARENT_SETTID | CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID;
    long tid = clone(child_fn, stack + ss, flags, (void *)7, &ptid, tls_block, &ctid);
    check("clone returned a tid", tid > 0);
    wait_cleared(&ctid);
    printf("child ran: flag=%d tls=%#lx\n", shared_flag, seen_tls);
    check("PARENT_SETTID wrote the tid", ptid == tid);
    check("the child saw its own tid", seen_tid == tid);
    check("CHILD_CLEARTID cleared and woke", ctid == 0);
    check("a thread is not a waitable child", waitpid(-1, NULL, __WALL | WNOHANG) <= 0);

    // clone3: a thread.
    struct clone_args ca;
    memset(&ca, 0, sizeof ca);
    volatile pid_t ctid3 = -1;
    ca.flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM | CLONE_SETTLS |
               CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID;
    ca.stack = (uintptr_t)stack;
    ca.stack_size = ss;
    ca.tls = (uintptr_t)tls_block;
    ca.child_tid = (uintptr_t)&ctid3;
    tls_block[0] = 0x3333;
    long t3 = raw_clone3(&ca, sizeof ca, child_fn, (void *)9);
    check("clone3 thread created", t3 > 0);
    wait_cleared(&ctid3);
    printf("clone3 child ran: flag=%d tls=%#lx\n", shared_flag, seen_tls);

    // clone3: a process (like fork).
    memset(&ca, 0, sizeof ca);
    ca.exit_signal = SIGCHLD;
    long p = syscall(SYS_clone3, &ca, sizeof ca);
    if (p == 0) _exit(5);
    reap("clone3 fork child", (pid_t)p);
    rep_err("clone3 with a bad size", syscall(SYS_clone3, &ca, 8));
    ca.flags = CLONE_THREAD;
    rep_err("clone3 CLONE_THREAD without CLONE_SIGHAND", syscall(SYS_clone3, &ca, sizeof ca));
    rep_err("clone CLONE_SIGHAND without CLONE_VM", syscall(SYS_clone, CLONE_SIGHAND, 0, 0, 0, 0));

    check("set_tid_address returns the tid", syscall(SYS_set_tid_address, NULL) == syscall(SYS_gettid));
    check("main thread: gettid == getpid", syscall(SYS_gettid) == getpid());

    // tgkill runs the handler in the target thread.
    signal(SIGUSR1, on_usr1);
    pthread_t th;
    pthread_create(&th, NULL, spinner, NULL);
    while (!target_tid) sched_yield();
    check("thread tid differs from the pid", target_tid != getpid());
    rep("tgkill", syscall(SYS_tgkill, getpid(), target_tid, SIGUSR1));
    while (!handler_tid) sched_yield();
    check("handler ran in the target thread", handler_tid == target_tid);
    rep_err("tgkill with a wrong tgid", syscall(SYS_tgkill, getpid() + 1000, target_tid, SIGUSR1));
    rep_err("tkill of a missing tid", syscall(SYS_tkill, 999999, SIGUSR1));
    stop = 1;
    pthread_join(th, NULL);
    // pthread_join returns when the thread's tid word is cleared, which Linux does before
    // the thread is gone; its tid then stops naming anything (ESRCH) soon after.
    long gone = 0;
    for (int i = 0; i < 1000 && !gone; i++) {
        gone = syscall(SYS_tgkill, getpid(), target_tid, 0) < 0 && errno == ESRCH;
        if (!gone) usleep(1000);
    }
    check("tgkill of an exited thread: ESRCH once it is gone", gone);

    rep("sched_yield", sched_yield());
    cpu_set_t set;
    CPU_ZERO(&set);
    rep("sched_getaffinity", sched_getaffinity(0, sizeof set, &set));
    int n = CPU_COUNT(&set);
    check("at least one cpu", n >= 1);
    check("affinity count == sysconf(_SC_NPROCESSORS_ONLN)", n == sysconf(_SC_NPROCESSORS_ONLN));
    long raw = syscall(SYS_sched_getaffinity, 0, sizeof set, &set);
    check("raw sched_getaffinity returns a size in bytes", raw > 0 && raw % 8 == 0);
    rep_err("sched_getaffinity with a tiny buffer", syscall(SYS_sched_getaffinity, 0, 1, &set));
    CPU_ZERO(&set);
    CPU_SET(0, &set);
    rep("sched_setaffinity to cpu 0", sched_setaffinity(0, sizeof set, &set));
    CPU_ZERO(&set);
    sched_getaffinity(0, sizeof set, &set);
    check("now only cpu 0", CPU_COUNT(&set) == 1 && CPU_ISSET(0, &set));
    printf("sched_getcpu: %d\n", sched_getcpu());
    printf("scheduler: %s\n", sched_getscheduler(0) == SCHED_OTHER ? "SCHED_OTHER" : "other");
    printf("FIFO priority range: %d..%d\n", sched_get_priority_min(SCHED_FIFO), sched_get_priority_max(SCHED_FIFO));
    struct sched_param sp;
    rep("sched_getparam", sched_getparam(0, &sp));
    printf("priority: %d\n", sp.sched_priority);
    rep_err("sched_getparam of a missing pid", sched_getparam(999999, &sp));
    done();
}
