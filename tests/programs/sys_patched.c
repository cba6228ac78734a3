/* Syscall sites the sentry may patch (`mov $nr, %eax; syscall`): registers and vector
 * state survive every call exactly as the syscall ABI says (rcx = the return address,
 * r11 = the flags), with a 1 ms interval timer interrupting the loop everywhere, inside
 * syscalls and between them; a forked child and a thread use the same patched sites. */
#include "moat_test.h"
#include <pthread.h>
#include <signal.h>
#include <asm/prctl.h>
#include <sys/syscall.h>
#include <sys/time.h>

static volatile long alarms;
static void on_alarm(int s) { (void)s; alarms++; }

/* One getpid through the patchable 7-byte sequence; fails if any register the syscall
 * ABI preserves changed, or rcx/r11 are not the return address and the flags. */
struct regs_seen {
    unsigned long v0[4], v1[4];
    long rax, rcx, r11, ret, flags, r8, r9, r10;
};

static int checked_getpid(long *pid) {
    struct regs_seen s = {{0x1111111122222222, 0x3333333344444444, 0x5555555566666666,
                           0x7777777788888888}};
    __asm__ volatile("vmovdqu 0(%[s]), %%ymm8\n\t"
                     "mov $0x8888, %%r8\n\t"
                     "mov $0x9999, %%r9\n\t"
                     "mov $0xaaaa, %%r10\n\t"
                     "pushfq\n\t"
                     "pop 96(%[s])\n\t"
                     "lea 1f(%%rip), %%rax\n\t"
                     "mov %%rax, 88(%[s])\n\t"
                     "mov $39, %%eax\n\t"
                     "syscall\n"
                     "1:\n\t"
                     "mov %%rax, 64(%[s])\n\t"
                     "mov %%rcx, 72(%[s])\n\t"
                     "mov %%r11, 80(%[s])\n\t"
                     "mov %%r8, 104(%[s])\n\t"
                     "mov %%r9, 112(%[s])\n\t"
                     "mov %%r10, 120(%[s])\n\t"
                     "vmovdqu %%ymm8, 32(%[s])\n\t"
                     :
                     : [s] "r"(&s)
                     : "rax", "rcx", "r11", "r8", "r9", "r10", "xmm8", "memory", "cc");
    *pid = s.rax;
    if (memcmp(s.v0, s.v1, sizeof s.v0) != 0 || s.r8 != 0x8888 || s.r9 != 0x9999 ||
        s.r10 != 0xaaaa)
        return 0;
    /* The flags in r11: compare the arithmetic ones (RF and friends may differ). */
    if (s.rcx != s.ret || (s.r11 & 0xcd5) != (s.flags & 0xcd5))
        return 0;
    return 1;
}

static int loop(int n, long want) {
    int bad = 0;
    for (int i = 0; i < n; i++) {
        long pid;
        if (!checked_getpid(&pid) || pid != want)
            bad++;
    }
    return bad;
}

static void *thread_main(void *arg) {
    (void)arg;
    return (void *)(long)loop(20000, getpid());
}

int main(void) {
    setup();
    struct sigaction sa = {0};
    sa.sa_handler = on_alarm;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it = {{0, 1000}, {0, 1000}};
    setitimer(ITIMER_REAL, &it, NULL);
    long me = getpid();
    int bad = loop(100000, me);
    /* Busy work between syscalls: the timer interrupts application code too. */
    volatile double x = 1;
    long start = alarms;
    while (alarms < start + 20)
        x = x * 1.0000001 + 1e-9;
    pthread_t t;
    pthread_create(&t, NULL, thread_main, NULL);
    void *tbad;
    bad += loop(20000, me);
    pthread_join(t, &tbad);
    pid_t c = fork();
    if (c == 0)
        _exit(loop(20000, getpid()) == 0 ? 0 : 1);
    int st;
    waitpid(c, &st, 0);
    /* A gs base of the program's own (memory, then an unmapped address): still served. */
    static long gsmem[128];
    int gs_ok = syscall(SYS_arch_prctl, ARCH_SET_GS, gsmem) == 0 && loop(1000, me) == 0;
    gs_ok = gs_ok && syscall(SYS_arch_prctl, ARCH_SET_GS, 0x10000) == 0 && loop(1000, me) == 0;
    unsigned long gs = 1;
    gs_ok = gs_ok && syscall(SYS_arch_prctl, ARCH_GET_GS, &gs) == 0 && gs == 0x10000;
    gs_ok = gs_ok && syscall(SYS_arch_prctl, ARCH_SET_GS, 0) == 0 && loop(1000, me) == 0;
    it.it_value.tv_usec = 0;
    it.it_interval.tv_usec = 0;
    setitimer(ITIMER_REAL, &it, NULL);
    check("registers kept across syscalls", bad == 0);
    check("... in a thread", tbad == NULL);
    check("... in a forked child", WIFEXITED(st) && WEXITSTATUS(st) == 0);
    check("with a gs base of its own", gs_ok);
    check("interval timer fired", alarms > 20);
    check("busy loop computed", x > 1);
    printf("done: ok\n");
    return 0;
}
