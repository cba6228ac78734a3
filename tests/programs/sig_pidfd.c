/* pidfds: pidfd_open (flags, errors, close-on-exec), poll readiness at exit,
 * pidfd_send_signal (with and without a siginfo, to a zombie, after reaping, bad fds and
 * flags), waitid(P_PIDFD) blocking and with a nonblocking pidfd. */
#include "moat_test.h"
#include <fcntl.h>
#include <poll.h>
#include <sys/syscall.h>

#ifndef PIDFD_NONBLOCK
#define PIDFD_NONBLOCK O_NONBLOCK
#endif
#ifndef P_PIDFD
#define P_PIDFD 3
#endif

static int pidfd_open(pid_t p, unsigned f) { return syscall(SYS_pidfd_open, p, f); }
static int pidfd_send(int fd, int sig, siginfo_t *si, unsigned f) { return syscall(SYS_pidfd_send_signal, fd, sig, si, f); }

static pid_t sleeper(void) {
    pid_t p = fork();
    if (p == 0) {
        for (;;) pause();
    }
    return p;
}

int main(void) {
    setup();
    rep_err("pidfd_open(0)", pidfd_open(0, 0));
    rep_err("pidfd_open(-1)", pidfd_open(-1, 0));
    rep_err("pidfd_open of a missing pid", pidfd_open(999999, 0));
    rep_err("pidfd_open bad flags", pidfd_open(getpid(), 1));
    int self = pidfd_open(getpid(), 0);
    printf("pidfd_open(self): %s, close-on-exec: %s\n", self >= 0 ? "ok" : errname(errno),
           fcntl(self, F_GETFD) & FD_CLOEXEC ? "yes" : "no");
    rep("pidfd_send_signal(self, 0)", pidfd_send(self, 0, NULL, 0));
    rep_err("pidfd_send_signal bad flags", pidfd_send(self, 0, NULL, 8));
    int pp[2];
    pipe(pp);
    rep_err("pidfd_send_signal on a pipe", pidfd_send(pp[0], 0, NULL, 0));
    rep_err("pidfd_send_signal on a bad fd", pidfd_send(99, 0, NULL, 0));
    siginfo_t w;
    rep_err("waitid(P_PIDFD) on ourselves", waitid(P_PIDFD, self, &w, WEXITED | WNOHANG));

    pid_t p = sleeper();
    int fd = pidfd_open(p, 0);
    struct pollfd pf = {fd, POLLIN, 0};
    printf("poll on a live child: %d\n", poll(&pf, 1, 0));
    siginfo_t si;
    memset(&si, 0, sizeof si);
    si.si_signo = SIGUSR1;
    si.si_code = SI_QUEUE;
    rep_err("pidfd_send_signal siginfo with another signo", pidfd_send(fd, SIGTERM, &si, 0));
    si.si_signo = SIGTERM;
    si.si_code = SI_USER;
    rep_err("pidfd_send_signal claiming SI_USER for another process", pidfd_send(fd, SIGTERM, &si, 0));
    rep("pidfd_send_signal SIGTERM", pidfd_send(fd, SIGTERM, NULL, 0));
    pf.revents = 0;
    int r = poll(&pf, 1, 5000);
    printf("poll after its death: %d, POLLIN: %s\n", r, pf.revents & POLLIN ? "yes" : "no");
    rep("pidfd_send_signal to the zombie", pidfd_send(fd, SIGTERM, NULL, 0));
    memset(&w, 0, sizeof w);
    rep("waitid(P_PIDFD)", waitid(P_PIDFD, fd, &w, WEXITED));
    printf("  si_code=%s si_status=%d pid_ok=%s\n", sicode_name(SIGCHLD, w.si_code), w.si_status, w.si_pid == p ? "yes" : "no");
    rep_err("pidfd_send_signal after reaping", pidfd_send(fd, 0, NULL, 0));
    rep_err("waitid(P_PIDFD) after reaping", waitid(P_PIDFD, fd, &w, WEXITED));
    close(fd);

    // A nonblocking pidfd: waitid does not wait.
    p = sleeper();
    fd = pidfd_open(p, PIDFD_NONBLOCK);
    rep_err("waitid on a nonblocking pidfd of a running child", waitid(P_PIDFD, fd, &w, WEXITED));
    memset(&si, 0, sizeof si);
    si.si_signo = SIGKILL;
    si.si_code = SI_QUEUE;
    rep("pidfd_send_signal SIGKILL with SI_QUEUE", pidfd_send(fd, SIGKILL, &si, 0));
    pf.fd = fd;
    pf.revents = 0;
    poll(&pf, 1, 5000);
    memset(&w, 0, sizeof w);
    rep("waitid once it died", waitid(P_PIDFD, fd, &w, WEXITED));
    printf("  si_code=%s si_status=%d\n", sicode_name(SIGCHLD, w.si_code), w.si_status);
    done();
}
