/* The container's init (pid 1 of its pid namespace) cannot be killed from inside its own
 * namespace: a child sends it SIGKILL, SIGSTOP and SIGTERM (left at the default) by kill,
 * tgkill, rt_sigqueueinfo and its process group, and Linux drops every one of them
 * (SIGNAL_UNKILLABLE). A SIGUSR1 the init has a handler for still arrives. The init then
 * reports what it saw. Run by tests/runc_parity.rs: it must be pid 1. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t got_usr1;
static void on_usr1(int sig) { (void)sig; got_usr1 = 1; }

static long sigqueue1(int sig) {
    siginfo_t si;
    memset(&si, 0, sizeof si);
    si.si_signo = sig;
    si.si_code = SI_QUEUE;
    si.si_pid = getpid();
    si.si_uid = getuid();
    return syscall(SYS_rt_sigqueueinfo, 1, sig, &si);
}

int main(void) {
    if (getpid() != 1) {
        printf("not pid 1 (%d)\n", getpid());
        return 2;
    }
    signal(SIGUSR1, on_usr1);
    pid_t c = fork();
    if (c == 0) {
        int sigs[] = {SIGKILL, SIGSTOP, SIGTERM};
        for (unsigned i = 0; i < 3; i++) {
            int s = sigs[i];
            printf("%s: kill %ld tgkill %ld sigqueue %ld\n", strsignal(s), (long)kill(1, s),
                   syscall(SYS_tgkill, 1, 1, s), sigqueue1(s));
        }
        /* The process group holds the init too; the child itself ignores the signal. */
        fflush(stdout);
        signal(SIGTERM, SIG_IGN);
        printf("pgrp SIGTERM: %d\n", kill(0, SIGTERM) == 0 ? 0 : -1);
        fflush(stdout);
        _exit(0);
    }
    int st = 0;
    waitpid(c, &st, 0);
    printf("child: %s %d\n", WIFSIGNALED(st) ? "signaled" : "exited",
           WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
    kill(1, SIGUSR1);
    printf("init alive, SIGUSR1 handled %d\n", (int)got_usr1);
    printf("done: ok\n");
    return 0;
}
