/* Default actions (in children): terminate, core, stop (SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU) and
 * continue, ignore (SIGCHLD, SIGURG, SIGWINCH, SIGCONT); SIG_IGN; SIGKILL of a stopped process;
 * a SIGCONT handler; SIGCHLD to the parent with CLD_* codes and SA_NOCLDSTOP; init (us, pid 1)
 * is immune to signals it has no handler for when they come from inside. */
#include "moat_test.h"

static int go[2];
static pid_t child_raising(int sig) {
    pid_t p = fork();
    if (p == 0) {
        raise(sig);
        _exit(0);
    }
    return p;
}
/* Stops itself, and once continued waits for a byte on `go` before exiting, so that the
 * parent sees the stop, the continue and the exit as separate events. */
static pid_t child_stopping(int sig) {
    pid_t p = fork();
    if (p == 0) {
        /* Its own process group, whose parent (us) is in another group of the same session:
         * not orphaned, so the job-control stop signals do stop it. */
        setpgid(0, 0);
        raise(sig);
        char c;
        if (read(go[0], &c, 1) != 1) _exit(1);
        _exit(0);
    }
    return p;
}

static volatile int chld_code[16], chld_status[16], nchld;
static void on_chld(int s, siginfo_t *si, void *uc) {
    (void)s; (void)uc;
    if (nchld < 16) {
        chld_code[nchld] = si->si_code;
        chld_status[nchld] = si->si_status;
        nchld++;
    }
}
static volatile int conts;
static void on_cont(int s) { (void)s; conts++; }

int main(void) {
    setup();
    int sigs[] = {SIGTERM, SIGQUIT, SIGABRT, SIGUSR1, SIGALRM, SIGHUP, SIGPIPE, SIGINT, SIGSYS, SIGXCPU};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        char what[48];
        snprintf(what, sizeof what, "default %s", sigabbrev_np(sigs[i]));
        reap(what, child_raising(sigs[i]));
    }
    int ign[] = {SIGCHLD, SIGURG, SIGWINCH, SIGCONT};
    for (size_t i = 0; i < sizeof ign / sizeof ign[0]; i++) {
        char what[48];
        snprintf(what, sizeof what, "default %s (ignored)", sigabbrev_np(ign[i]));
        reap(what, child_raising(ign[i]));
    }
    pid_t p = fork();
    if (p == 0) {
        signal(SIGTERM, SIG_IGN);
        raise(SIGTERM);
        _exit(5);
    }
    reap("SIGTERM with SIG_IGN", p);

    if (pipe(go) < 0) return 1;
    int stops[] = {SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU};
    for (size_t i = 0; i < sizeof stops / sizeof stops[0]; i++) {
        p = child_stopping(stops[i]);
        int st;
        waitpid(p, &st, WUNTRACED);
        printf("%s: %s", sigabbrev_np(stops[i]), wstatus(st));
        kill(p, SIGCONT);
        waitpid(p, &st, WCONTINUED);
        printf(", then %s", wstatus(st));
        write(go[1], "g", 1);
        waitpid(p, &st, 0);
        printf(", then %s\n", wstatus(st));
    }
    // In an orphaned process group (ours: init's parent is outside the sandbox) SIGTSTP,
    // SIGTTIN and SIGTTOU with the default action are discarded; SIGSTOP still stops.
    p = fork();
    if (p == 0) {
        raise(SIGTSTP);
        raise(SIGTTIN);
        raise(SIGTTOU);
        _exit(0);
    }
    reap("job-control stops in an orphaned process group (discarded)", p);
    p = child_raising(SIGSTOP);
    int st;
    waitpid(p, &st, WUNTRACED);
    kill(p, SIGKILL);
    reap("SIGKILL of a stopped child", p);

    p = fork();
    if (p == 0) {
        signal(SIGCONT, on_cont);
        raise(SIGSTOP);
        _exit(conts == 1 ? 0 : 1);
    }
    waitpid(p, &st, WUNTRACED);
    kill(p, SIGCONT);
    reap("SIGCONT handler ran once after the stop (0)", p);

    // SIGCHLD to the parent.
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_chld;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigaction(SIGCHLD, &sa, NULL);
    p = fork();
    if (p == 0) _exit(7);
    waitpid(p, &st, 0);
    p = child_raising(SIGUSR2);
    waitpid(p, &st, 0);
    p = child_stopping(SIGSTOP);
    waitpid(p, &st, WUNTRACED);
    kill(p, SIGCONT);
    waitpid(p, &st, WCONTINUED);
    /* Linux sends CLD_CONTINUED from the child once it runs again, possibly after the wait
     * above returned: let it arrive before the exit's SIGCHLD, which would merge with it. */
    for (int i = 0; i < 2000 && nchld < 4; i++) sleep_ms(1);
    write(go[1], "g", 1);
    waitpid(p, &st, 0);
    printf("SIGCHLDs: %d:", nchld);
    for (int i = 0; i < nchld; i++) printf(" %s/%d", sicode_name(SIGCHLD, chld_code[i]), chld_status[i]);
    printf("\n");
    sa.sa_flags |= SA_NOCLDSTOP;
    sigaction(SIGCHLD, &sa, NULL);
    nchld = 0;
    p = child_stopping(SIGSTOP);
    waitpid(p, &st, WUNTRACED);
    kill(p, SIGCONT);
    sleep_ms(50); /* a CLD_CONTINUED, if wrongly sent, arrives now */
    write(go[1], "g", 1);
    waitpid(p, &st, 0);
    printf("with SA_NOCLDSTOP: %d:", nchld);
    for (int i = 0; i < nchld; i++) printf(" %s/%d", sicode_name(SIGCHLD, chld_code[i]), chld_status[i]);
    printf("\n");
    signal(SIGCHLD, SIG_DFL);

    // init is immune to signals without a handler sent from inside its namespace.
    printf("I am pid 1: %s\n", getpid() == 1 ? "yes" : "no");
    p = fork();
    if (p == 0) {
        kill(1, SIGTERM);
        kill(1, SIGUSR1);
        kill(1, SIGHUP);
        _exit(0);
    }
    reap("child signalling init", p);
    sleep_ms(50);
    printf("init survived SIGTERM, SIGUSR1, SIGHUP: yes\n");
    done();
}
