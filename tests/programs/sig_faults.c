/* Hardware faults reach handlers with the right si_code, si_addr and saved RIP: SIGFPE
 * (integer divide, unmasked float divide-by-zero), SIGILL (ud2), SIGTRAP (int3 and raise),
 * SIGSEGV (write to .rodata, call through NULL, non-canonical address, execute from the
 * stack); a handler can resume after the faulting instruction by editing RIP; faults with the
 * signal blocked or ignored kill the process, as does a fault inside the fault handler. */
#define _GNU_SOURCE
#include "moat_test.h"
#include <fenv.h>
#include <ucontext.h>

static sigjmp_buf jb;
static volatile int g_sig, g_code, skip;
static void *volatile g_addr, *volatile g_rip;
static void handler(int s, siginfo_t *si, void *ucv) {
    ucontext_t *uc = ucv;
    g_sig = s;
    g_code = si->si_code;
    g_addr = si->si_addr;
    g_rip = (void *)uc->uc_mcontext.gregs[REG_RIP];
    if (skip) {
        uc->uc_mcontext.gregs[REG_RIP] += skip;
        return;
    }
    siglongjmp(jb, 1);
}

static void install(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = handler;
    sa.sa_flags = SA_SIGINFO;
    int sigs[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP};
    for (int i = 0; i < 5; i++) sigaction(sigs[i], &sa, NULL);
}

static void report(const char *what, void *want_addr, void *want_rip) {
    printf("%s: %s %s addr=%s rip=%s\n", what, g_sig ? sigabbrev_np(g_sig) : "none", g_sig ? sicode_name(g_sig, g_code) : "-",
           g_addr == want_addr ? "expected" : "other", g_rip == want_rip ? "expected" : "other");
    g_sig = 0;
}

static const char rodata[] = "constant";

static void dfl(void) {
    int sigs[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP};
    for (int i = 0; i < 5; i++) signal(sigs[i], SIG_DFL);
}

int main(void) {
    setup();
    install();
    void *ip;

    if (sigsetjmp(jb, 1) == 0) {
        __asm__ volatile("lea 1f(%%rip), %%rax\n mov %%rax, %0\n xor %%edx, %%edx\n mov $1, %%eax\n xor %%ecx, %%ecx\n"
                         "1: idiv %%ecx\n" : "=m"(ip) :: "rax", "rdx", "rcx");
    }
    report("integer divide by zero", ip, ip);

    if (sigsetjmp(jb, 1) == 0) {
        __asm__ volatile("lea 1f(%%rip), %%rax\n mov %%rax, %0\n mov $0x8000000000000000, %%rax\n mov $-1, %%rcx\n cqo\n"
                         "1: idiv %%rcx\n" : "=m"(ip) :: "rax", "rdx", "rcx");
    }
    report("INT64_MIN / -1", ip, ip);

    if (sigsetjmp(jb, 1) == 0) {
        feenableexcept(FE_DIVBYZERO);
        volatile double z = 0.0, one = 1.0;
        volatile double r = one / z;
        (void)r;
    }
    fedisableexcept(FE_ALL_EXCEPT);
    printf("float divide by zero (unmasked): %s %s\n", g_sig ? sigabbrev_np(g_sig) : "none", g_sig ? sicode_name(g_sig, g_code) : "-");
    g_sig = 0;

    if (sigsetjmp(jb, 1) == 0) {
        __asm__ volatile("lea 1f(%%rip), %%rax\n mov %%rax, %0\n 1: ud2\n" : "=m"(ip) :: "rax");
    }
    report("ud2", ip, ip);

    skip = 2;
    __asm__ volatile("lea 1f(%%rip), %%rax\n mov %%rax, %0\n 1: ud2\n" : "=m"(ip) :: "rax");
    skip = 0;
    report("ud2 skipped by editing RIP in the handler (resumed)", ip, ip);

    if (sigsetjmp(jb, 1) == 0) {
        __asm__ volatile("lea 1f(%%rip), %%rax\n mov %%rax, %0\n int3\n 1: nop\n" : "=m"(ip) :: "rax");
    }
    report("int3 (rip after the trap)", NULL, ip);
    if (sigsetjmp(jb, 1) == 0) raise(SIGTRAP);
    printf("raise(SIGTRAP): %s %s\n", sigabbrev_np(g_sig), sicode_name(g_sig, g_code));
    g_sig = 0;

    if (sigsetjmp(jb, 1) == 0) *(volatile char *)rodata = 'x';
    printf("write to .rodata: %s %s addr=%s\n", sigabbrev_np(g_sig), sicode_name(g_sig, g_code), g_addr == rodata ? "expected" : "other");
    g_sig = 0;

    if (sigsetjmp(jb, 1) == 0) ((void (*)(void))0)();
    report("call through NULL", NULL, NULL);

    if (sigsetjmp(jb, 1) == 0) *(volatile long *)0x8000000000000000UL = 1;
    printf("non-canonical address: %s %s addr=%s\n", sigabbrev_np(g_sig), sicode_name(g_sig, g_code), g_addr == NULL ? "0" : "other");
    g_sig = 0;

    unsigned char code[16] = {0xc3};
    if (sigsetjmp(jb, 1) == 0) ((void (*)(void))code)();
    report("execute from the stack", code, code);

    // Fatal cases, in children. Each child first drops the handlers above: a fault must never
    // siglongjmp into the parent's code path.
    pid_t p = fork();
    if (p == 0) {
        dfl();
        sigset_t s;
        sigemptyset(&s);
        sigaddset(&s, SIGSEGV);
        sigprocmask(SIG_BLOCK, &s, NULL);
        *(volatile int *)0 = 1;
        _exit(0);
    }
    reap("fault with SIGSEGV blocked", p);
    p = fork();
    if (p == 0) {
        dfl();
        signal(SIGSEGV, SIG_IGN);
        *(volatile int *)0 = 1;
        _exit(0);
    }
    reap("fault with SIGSEGV ignored", p);
    p = fork();
    if (p == 0) {
        dfl();
        signal(SIGFPE, SIG_IGN);
        __asm__ volatile("xor %%edx, %%edx\n mov $1, %%eax\n xor %%ecx, %%ecx\n idiv %%ecx" ::: "rax", "rdx", "rcx");
        _exit(0);
    }
    reap("divide by zero with SIGFPE ignored", p);
    p = fork();
    if (p == 0) {
        dfl();
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = (void (*)(int))0x10; /* the handler itself faults */
        sigaction(SIGUSR1, &sa, NULL);
        raise(SIGUSR1);
        _exit(0);
    }
    reap("handler at a bad address", p);
    p = fork();
    if (p == 0) {
        dfl();
        __asm__ volatile("ud2");
        _exit(0);
    }
    reap("ud2 without a handler", p);
    p = fork();
    if (p == 0) {
        dfl();
        __asm__ volatile("int3");
        _exit(0);
    }
    reap("int3 without a handler", p);
    done();
}
