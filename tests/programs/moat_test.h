/* moat_test.h - helpers shared by the corpus programs (tests/tests/corpus_c.rs).
 *
 * Every corpus program prints lines that are the same natively and under moat: results,
 * errno names and derived booleans, never pids, addresses, times or host details. stdout is
 * unbuffered (setup()) so that output of forked children and their parent interleaves in
 * program order and nothing is printed twice by a fork. The last line is `done: ok`. */
#ifndef MOAT_TEST_H
#define MOAT_TEST_H
#define _GNU_SOURCE
#include <errno.h>
#include <ftw.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static inline const char *errname(int e) {
    switch (e) {
#define E(x) case x: return #x;
        E(EPERM) E(ENOENT) E(ESRCH) E(EINTR) E(EIO) E(ENXIO) E(E2BIG) E(ENOEXEC) E(EBADF)
        E(ECHILD) E(EAGAIN) E(ENOMEM) E(EACCES) E(EFAULT) E(EBUSY) E(EEXIST) E(EXDEV)
        E(ENODEV) E(ENOTDIR) E(EISDIR) E(EINVAL) E(ENFILE) E(EMFILE) E(ENOTTY) E(ETXTBSY)
        E(EFBIG) E(ENOSPC) E(ESPIPE) E(EROFS) E(EMLINK) E(EPIPE) E(EDOM) E(ERANGE)
        E(EDEADLK) E(ENAMETOOLONG) E(ENOLCK) E(ENOSYS) E(ENOTEMPTY) E(ELOOP) E(ENOMSG)
        E(EIDRM) E(ENODATA) E(ETIME) E(EOVERFLOW) E(EBADFD) E(ENOTSOCK) E(EDESTADDRREQ)
        E(EMSGSIZE) E(EPROTOTYPE) E(ENOPROTOOPT) E(EPROTONOSUPPORT) E(EOPNOTSUPP)
        E(EAFNOSUPPORT) E(EADDRINUSE) E(EADDRNOTAVAIL) E(ENETUNREACH) E(ECONNABORTED)
        E(ECONNRESET) E(ENOBUFS) E(EISCONN) E(ENOTCONN) E(ETIMEDOUT) E(ECONNREFUSED)
        E(EALREADY) E(EINPROGRESS) E(ESTALE) E(EOWNERDEAD) E(ENOTRECOVERABLE) E(ENOTUNIQ)
        E(ECANCELED) E(EKEYEXPIRED)
#undef E
    case 0: return "0";
    default: {
        static char buf[32];
        snprintf(buf, sizeof buf, "errno%d", e);
        return buf;
    }
    }
}

static inline void setup(void) { setvbuf(stdout, NULL, _IONBF, 0); }

/* `what: ok` for r >= 0, else `what: ERRNAME`. Returns r. */
static inline long rep(const char *what, long r) {
    int e = errno;
    if (r >= 0)
        printf("%s: ok\n", what);
    else
        printf("%s: %s\n", what, errname(e));
    errno = e;
    return r;
}

/* `what: ERRNAME` (or `what: succeeded` when the call unexpectedly worked). */
static inline void rep_err(const char *what, long r) {
    if (r >= 0)
        printf("%s: succeeded (%ld)\n", what, r);
    else
        printf("%s: %s\n", what, errname(errno));
}

/* `what: yes|no`. */
static inline void check(const char *what, int cond) { printf("%s: %s\n", what, cond ? "yes" : "no"); }

static inline long now_ms(clockid_t c) {
    struct timespec t;
    clock_gettime(c, &t);
    return t.tv_sec * 1000L + t.tv_nsec / 1000000L;
}

static inline void sleep_ms(long ms) {
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) < 0 && errno == EINTR) {
    }
}

/* Describes a wait status: `exit N`, `signal NAME`, `stopped NAME`, `continued`. Core dumps
 * are not mentioned: whether one is written depends on the host's core_pattern. */
static inline const char *wstatus(int st) {
    static char buf[64];
    if (WIFEXITED(st))
        snprintf(buf, sizeof buf, "exit %d", WEXITSTATUS(st));
    else if (WIFSIGNALED(st))
        snprintf(buf, sizeof buf, "signal %s", sigabbrev_np(WTERMSIG(st)));
    else if (WIFSTOPPED(st))
        snprintf(buf, sizeof buf, "stopped %s", sigabbrev_np(WSTOPSIG(st)));
    else if (WIFCONTINUED(st))
        snprintf(buf, sizeof buf, "continued");
    else
        snprintf(buf, sizeof buf, "status %#x", st);
    return buf;
}

/* Waits for pid and prints `what: <wstatus>`. */
static inline int reap(const char *what, pid_t pid) {
    int st = 0;
    pid_t r;
    while ((r = waitpid(pid, &st, 0)) < 0 && errno == EINTR) {
    }
    if (r < 0)
        printf("%s: waitpid %s\n", what, errname(errno));
    else
        printf("%s: %s\n", what, wstatus(st));
    return st;
}

static inline int rm_one_(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb; (void)flag; (void)ftw;
    remove(p);
    return 0;
}

/* rm -rf without a child process (programs count their children and SIGCHLDs). */
static inline void rm_rf(const char *dir) { nftw(dir, rm_one_, 16, FTW_DEPTH | FTW_PHYS); }

/* A private scratch directory /tmp/<name>.d, emptied first (a previous run may have failed). */
static inline void scratch(const char *name, char *out, size_t n) {
    snprintf(out, n, "/tmp/%s.d", name);
    rm_rf(out);
    if (mkdir(out, 0777) != 0) {
        printf("scratch mkdir %s: %s\n", out, errname(errno));
        exit(1);
    }
}

static inline void scratch_done(const char *dir) { rm_rf(dir); }

/* Memory probes: touch an address with SIGSEGV/SIGBUS handlers installed and report what
 * happened, relative to the address the fault should name. */
static sigjmp_buf probe_jb_;
static volatile int probe_sig_, probe_code_;
static void *volatile probe_addr_;
static void probe_handler_(int s, siginfo_t *si, void *uc) {
    (void)uc;
    probe_sig_ = s;
    probe_code_ = si->si_code;
    probe_addr_ = si->si_addr;
    siglongjmp(probe_jb_, 1);
}
static inline void probe_install_(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = probe_handler_;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);
}
static inline const char *sicode_name(int sig, int code) {
    if (code == SI_USER) return "SI_USER";
    if (code == SI_KERNEL) return "SI_KERNEL";
    if (code == SI_TKILL) return "SI_TKILL";
    if (code == SI_QUEUE) return "SI_QUEUE";
    if (code == SI_TIMER) return "SI_TIMER";
    if (sig == SIGSEGV && code == SEGV_MAPERR) return "SEGV_MAPERR";
    if (sig == SIGSEGV && code == SEGV_ACCERR) return "SEGV_ACCERR";
    if (sig == SIGBUS && code == BUS_ADRERR) return "BUS_ADRERR";
    if (sig == SIGBUS && code == BUS_ADRALN) return "BUS_ADRALN";
    if (sig == SIGBUS && code == BUS_OBJERR) return "BUS_OBJERR";
    if (sig == SIGFPE && code == FPE_INTDIV) return "FPE_INTDIV";
    if (sig == SIGFPE && code == FPE_FLTDIV) return "FPE_FLTDIV";
    if (sig == SIGFPE && code == FPE_FLTINV) return "FPE_FLTINV";
    if (sig == SIGILL && code == ILL_ILLOPN) return "ILL_ILLOPN";
    if (sig == SIGILL && code == ILL_ILLOPC) return "ILL_ILLOPC";
    if (sig == SIGTRAP && code == TRAP_BRKPT) return "TRAP_BRKPT";
    if (sig == SIGTRAP && code == TRAP_TRACE) return "TRAP_TRACE";
    if (sig == SIGCHLD && code == CLD_EXITED) return "CLD_EXITED";
    if (sig == SIGCHLD && code == CLD_KILLED) return "CLD_KILLED";
    if (sig == SIGCHLD && code == CLD_DUMPED) return "CLD_KILLED"; /* core_pattern-dependent */
    if (sig == SIGCHLD && code == CLD_STOPPED) return "CLD_STOPPED";
    if (sig == SIGCHLD && code == CLD_CONTINUED) return "CLD_CONTINUED";
    static char b[32];
    snprintf(b, sizeof b, "code%d", code);
    return b;
}
/* Reads (write=0) or writes (write=1) *p; prints `what: none` or
 * `what: SIGSEGV SEGV_ACCERR addr=exact|other`. Returns the signal or 0. */
static inline int probe(const char *what, volatile char *p, int write) {
    probe_install_();
    probe_sig_ = 0;
    if (sigsetjmp(probe_jb_, 1) == 0) {
        if (write)
            *p = 1;
        else
            (void)*p;
    }
    if (!probe_sig_)
        printf("%s: none\n", what);
    else
        printf("%s: %s %s addr=%s\n", what, sigabbrev_np(probe_sig_), sicode_name(probe_sig_, probe_code_),
               probe_addr_ == (void *)p ? "exact" : "other");
    signal(SIGSEGV, SIG_DFL);
    signal(SIGBUS, SIG_DFL);
    return probe_sig_;
}

static inline void done(void) {
    printf("done: ok\n");
    exit(0);
}

#endif
