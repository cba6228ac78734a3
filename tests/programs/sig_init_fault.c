/* The container's init (pid 1 of its pid namespace) faults (a NULL+offset load) with SIGSEGV
 * handled (argv[1] "handle": the handler runs and exits 3), ignored ("ignore"), left at the
 * default ("default") or blocked ("block"). Linux kills an init whose fault it cannot
 * deliver to a handler, whatever the init's immunity to signals: exit by SIGSEGV. Run by
 * tests/runc_parity.rs (a corpus program must end "done: ok"; this one ends by the fault). */
#include <signal.h>
#include <string.h>
#include <unistd.h>

static void on_segv(int sig) {
    (void)sig;
    write(1, "handler ran\n", 12);
    _exit(3);
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "handle";
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = !strcmp(mode, "ignore") ? SIG_IGN : !strcmp(mode, "handle") ? on_segv : SIG_DFL;
    sigaction(SIGSEGV, &sa, 0);
    if (!strcmp(mode, "block")) {
        sigset_t m;
        sigemptyset(&m);
        sigaddset(&m, SIGSEGV);
        sigprocmask(SIG_BLOCK, &m, 0);
    }
    write(1, "faulting\n", 9);
    volatile long *p = (long *)1;
    return (int)p[4];
}
