/* wait4 and waitid: WNOHANG, WUNTRACED, WCONTINUED, WNOWAIT, P_PID/P_PGID/P_ALL, siginfo
 * fields (si_code, si_status, si_pid), rusage, ECHILD, waiting for a group, __WALL. */
#include "moat_test.h"
#include <sys/resource.h>

static void show_si(const char *what, siginfo_t *si, pid_t expect) {
    printf("%s: si_signo=%s si_code=%s si_status=%d pid_ok=%s\n", what, si->si_signo ? sigabbrev_np(si->si_signo) : "0",
           si->si_signo ? sicode_name(SIGCHLD, si->si_code) : "-", si->si_status, si->si_pid == expect ? "yes" : "no");
}

int main(void) {
    setup();
    rep_err("wait with no children", wait(NULL));
    rep_err("waitid with no children", waitid(P_ALL, 0, &(siginfo_t){0}, WEXITED));

    int go[2];
    pipe(go);
    pid_t p = fork();
    if (p == 0) {
        char c;
        read(go[0], &c, 1);
        _exit(17);
    }
    int st = 0;
    printf("WNOHANG on a running child: %d\n", waitpid(p, &st, WNOHANG));
    siginfo_t si;
    memset(&si, 0, sizeof si);
    printf("waitid WNOHANG on a running child: %d\n", waitid(P_PID, p, &si, WEXITED | WNOHANG));
    show_si("  siginfo", &si, 0);
    write(go[1], "x", 1);
    memset(&si, 0, sizeof si);
    rep("waitid WNOWAIT", waitid(P_PID, p, &si, WEXITED | WNOWAIT));
    show_si("  siginfo", &si, p);
    memset(&si, 0, sizeof si);
    rep("waitid again after WNOWAIT", waitid(P_PID, p, &si, WEXITED));
    show_si("  siginfo", &si, p);
    rep_err("and now it is gone", waitpid(p, &st, 0));

    // Stop / continue.
    p = fork();
    if (p == 0) {
        for (;;) pause();
    }
    kill(p, SIGSTOP);
    pid_t r = waitpid(p, &st, WUNTRACED);
    printf("WUNTRACED: %s (pid ok: %s)\n", wstatus(st), r == p ? "yes" : "no");
    printf("stop reported once: %d\n", waitpid(p, &st, WUNTRACED | WNOHANG));
    kill(p, SIGCONT);
    r = waitpid(p, &st, WCONTINUED);
    printf("WCONTINUED: %s\n", wstatus(st));
    kill(p, SIGSTOP);
    memset(&si, 0, sizeof si);
    waitid(P_PID, p, &si, WSTOPPED);
    show_si("waitid WSTOPPED", &si, p);
    kill(p, SIGCONT);
    memset(&si, 0, sizeof si);
    waitid(P_PID, p, &si, WCONTINUED);
    show_si("waitid WCONTINUED", &si, p);
    kill(p, SIGKILL);
    memset(&si, 0, sizeof si);
    waitid(P_PID, p, &si, WEXITED);
    show_si("waitid after SIGKILL", &si, p);

    // Process groups: P_PGID and waitpid(-pgid).
    pid_t a = fork();
    if (a == 0) {
        setpgid(0, 0);
        sleep_ms(30);
        _exit(1);
    }
    setpgid(a, a);
    pid_t b = fork();
    if (b == 0) {
        setpgid(0, a);
        sleep_ms(60);
        _exit(2);
    }
    setpgid(b, a);
    pid_t c = fork();
    if (c == 0) _exit(3);
    int got = 0, codes = 0;
    while ((r = waitpid(-a, &st, 0)) > 0) {
        got++;
        codes += WEXITSTATUS(st);
    }
    printf("waitpid(-pgid): %d children, codes sum %d, then %s\n", got, codes, errname(errno));
    memset(&si, 0, sizeof si);
    waitid(P_PGID, getpgrp(), &si, WEXITED);
    show_si("waitid P_PGID (our group)", &si, c);

    // Exit statuses via wait4 with rusage.
    p = fork();
    if (p == 0) {
        volatile long s = 0;
        for (long i = 0; i < 30000000; i++) s += i;
        _exit(0);
    }
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    wait4(p, &st, 0, &ru);
    printf("wait4 rusage: utime+stime > 0: %s, maxrss > 0: %s\n", ru.ru_utime.tv_sec + ru.ru_utime.tv_usec + ru.ru_stime.tv_usec > 0 ? "yes" : "no",
           ru.ru_maxrss > 0 ? "yes" : "no");
    p = fork();
    if (p == 0) {
        raise(SIGABRT);
        _exit(0);
    }
    memset(&si, 0, sizeof si);
    waitid(P_PID, p, &si, WEXITED);
    show_si("killed by SIGABRT", &si, p);
    p = fork();
    if (p == 0) _exit(255);
    reap("exit 255", p);
    p = fork();
    if (p == 0) _exit(256 + 4);
    reap("exit 260 (low 8 bits)", p);

    rep_err("waitpid of a non-child", waitpid(1, &st, WNOHANG));
    rep_err("waitid bad idtype", waitid(7, 0, &si, WEXITED));
    rep_err("waitid without WEXITED/WSTOPPED/WCONTINUED", waitid(P_ALL, 0, &si, WNOHANG));
    rep_err("waitpid bad options", waitpid(-1, &st, 0x4000000));
    p = fork();
    if (p == 0) _exit(8);
    sleep_ms(30);
    r = waitpid(-1, &st, __WALL);
    printf("__WALL: %s pid ok: %s\n", wstatus(st), r == p ? "yes" : "no");
    done();
}
