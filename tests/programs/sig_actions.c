/* sigaction semantics: SA_SIGINFO fields (si_code SI_USER/SI_TKILL/SI_QUEUE, si_pid, si_uid,
 * si_value), ucontext present, SA_RESETHAND, SA_NODEFER (nesting) vs the default (the signal is
 * blocked in its handler), sa_mask applied during the handler and restored after, the old
 * action returned, SIGKILL/SIGSTOP cannot be caught, invalid signal numbers. */
#include "moat_test.h"
#include <sys/syscall.h>
#include <ucontext.h>

static volatile int last_code, last_signo, last_val, pid_ok, uid_ok, uc_ok, depth, max_depth, count;
static volatile int usr2_blocked_inside, self_blocked_inside;

static void info_handler(int s, siginfo_t *si, void *ucv) {
    ucontext_t *uc = ucv;
    last_signo = s;
    last_code = si->si_code;
    last_val = si->si_value.sival_int;
    pid_ok = si->si_pid == getpid();
    uid_ok = si->si_uid == getuid();
    uc_ok = uc != NULL && uc->uc_mcontext.gregs[REG_RSP] != 0;
    sigset_t cur;
    sigprocmask(SIG_SETMASK, NULL, &cur);
    usr2_blocked_inside = sigismember(&cur, SIGUSR2);
    self_blocked_inside = sigismember(&cur, s);
    count++;
}

static volatile int raises;
static void nest_handler(int s) {
    depth++;
    if (depth > max_depth) max_depth = depth;
    if (raises < 2) {
        raises++;
        raise(s);
    }
    depth--;
}

static void show(const char *what) {
    printf("%s: signo=%s code=%s value=%d pid_ok=%d uid_ok=%d uc_ok=%d\n", what, sigabbrev_np(last_signo),
           sicode_name(last_signo, last_code), last_val, pid_ok, uid_ok, uc_ok);
}

int main(void) {
    setup();
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = info_handler;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGUSR2);
    rep("sigaction SIGUSR1", sigaction(SIGUSR1, &sa, NULL));
    kill(getpid(), SIGUSR1);
    show("kill");
    printf("in handler: SIGUSR2 blocked (sa_mask)=%d, SIGUSR1 blocked=%d\n", usr2_blocked_inside, self_blocked_inside);
    sigset_t cur;
    sigprocmask(SIG_SETMASK, NULL, &cur);
    printf("after handler: SIGUSR2 blocked=%d\n", sigismember(&cur, SIGUSR2));
    syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), SIGUSR1);
    show("tgkill");
    sigqueue(getpid(), SIGUSR1, (union sigval){.sival_int = 4242});
    show("sigqueue");
    raise(SIGUSR1);
    show("raise");
    siginfo_t qi;
    memset(&qi, 0, sizeof qi);
    qi.si_signo = SIGUSR1;
    qi.si_code = -7;
    qi.si_value.sival_int = 77;
    qi.si_pid = getpid();
    qi.si_uid = getuid();
    rep("rt_sigqueueinfo with a custom code", syscall(SYS_rt_sigqueueinfo, getpid(), SIGUSR1, &qi));
    printf("custom: code=%d value=%d\n", last_code, last_val);
    qi.si_code = SI_KERNEL;
    rep_err("rt_sigqueueinfo claiming SI_KERNEL", syscall(SYS_rt_sigqueueinfo, getpid(), SIGUSR1, &qi));
    qi.si_code = SI_QUEUE;
    rep("rt_tgsigqueueinfo", syscall(SYS_rt_tgsigqueueinfo, getpid(), syscall(SYS_gettid), SIGUSR1, &qi));
    printf("rt_tgsigqueueinfo: code=%s value=%d\n", sicode_name(SIGUSR1, last_code), last_val);

    rep("sigaction returns the old action", sigaction(SIGUSR1, NULL, &old));
    printf("old: siginfo=%d handler_ok=%d mask has SIGUSR2=%d\n", !!(old.sa_flags & SA_SIGINFO),
           old.sa_sigaction == info_handler, sigismember(&old.sa_mask, SIGUSR2));

    // SA_RESETHAND: the second delivery takes the default action (checked in a child).
    sa.sa_flags = SA_SIGINFO | SA_RESETHAND;
    sigaction(SIGUSR1, &sa, NULL);
    count = 0;
    raise(SIGUSR1);
    sigaction(SIGUSR1, NULL, &old);
    printf("SA_RESETHAND: ran %d, handler now SIG_DFL=%d\n", count, old.sa_handler == SIG_DFL);
    sigaction(SIGUSR1, &sa, NULL);
    pid_t p = fork();
    if (p == 0) {
        raise(SIGUSR1);
        raise(SIGUSR1);
        _exit(0);
    }
    reap("child raising twice with SA_RESETHAND", p);

    // Nesting: with SA_NODEFER the handler re-enters; without, the raise stays pending.
    struct sigaction ns;
    memset(&ns, 0, sizeof ns);
    ns.sa_handler = nest_handler;
    ns.sa_flags = SA_NODEFER;
    sigaction(SIGUSR2, &ns, NULL);
    depth = max_depth = raises = 0;
    raise(SIGUSR2);
    printf("SA_NODEFER max nesting depth: %d\n", max_depth);
    ns.sa_flags = 0;
    sigaction(SIGUSR2, &ns, NULL);
    depth = max_depth = raises = 0;
    raise(SIGUSR2);
    printf("default (deferred) max nesting depth: %d\n", max_depth);

    rep_err("catch SIGKILL", sigaction(SIGKILL, &sa, NULL));
    rep_err("catch SIGSTOP", sigaction(SIGSTOP, &sa, NULL));
    rep("ignore query of SIGKILL", sigaction(SIGKILL, NULL, &old));
    rep_err("signal 0", sigaction(0, &sa, NULL));
    rep_err("signal 65", sigaction(65, &sa, NULL));
    rep_err("rt_sigaction bad sigsetsize", syscall(SYS_rt_sigaction, SIGUSR1, NULL, &old, 4));
    rep_err("kill with signal 65", kill(getpid(), 65));
    rep("kill with signal 0 (probe)", kill(getpid(), 0));
    rep_err("kill of a missing pid", kill(999999, 0));
    rep_err("rt_sigprocmask bad how", syscall(SYS_rt_sigprocmask, 99, &cur, NULL, 8));
    sigset_t all;
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);
    sigprocmask(SIG_SETMASK, NULL, &cur);
    printf("SIGKILL/SIGSTOP cannot be blocked: %s\n", !sigismember(&cur, SIGKILL) && !sigismember(&cur, SIGSTOP) ? "yes" : "no");
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);
    done();
}
