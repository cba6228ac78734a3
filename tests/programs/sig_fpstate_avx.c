// A signal handler that clobbers the upper half of an AVX register must not change the
// interrupted code's registers: the signal frame carries the full XSAVE state.
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>

static volatile int got;

__attribute__((target("avx"))) static void handler(int s, siginfo_t *si, void *uc) {
    (void)s; (void)si; (void)uc;
    static const double junk[4] = {-1, -1, -1, -1};
    __asm__ volatile("vmovupd %0, %%ymm3" :: "m"(junk) : "xmm3");
    got++;
}

__attribute__((target("avx"))) static void run(void) {
    static const double in[4] = {4, 3, 2, 1};
    double out[4];
    long pid = getpid();
    __asm__ volatile(
        "vmovupd %1, %%ymm3\n\t"
        "mov %2, %%rdi\n\t"
        "mov $10, %%esi\n\t"
        "mov %3, %%eax\n\t"
        "syscall\n\t"
        "vmovupd %%ymm3, %0"
        : "=m"(out)
        : "m"(in), "r"(pid), "i"(SYS_kill)
        : "rax", "rdi", "rsi", "rcx", "r11", "memory", "xmm3");
    printf("handler ran: %d\n", got);
    printf("ymm3 after handler: %g %g %g %g\n", out[0], out[1], out[2], out[3]);
}

int main(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = handler;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGUSR1, &sa, 0);
    if (!__builtin_cpu_supports("avx")) {
        printf("no AVX on this CPU: nothing to check\ndone: ok\n");
        return 0;
    }
    run();
    printf("done: ok\n");
    return 0;
}
