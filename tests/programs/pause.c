/* pause.c - the pause program of the CRI test's pod sandbox image (tests/tests/cri.rs builds
 * an image whose only file is this binary, /pause, and makes it containerd's sandbox_image).
 *
 * Like Kubernetes' pause: it holds the pod's namespaces and sleeps until SIGTERM or SIGINT
 * (then exits 0, so StopPodSandbox does not have to escalate to SIGKILL), and it reaps
 * whatever it inherits (it is pid 1 of the pod's pid namespace when the pod shares one).
 * The signals are blocked and taken in sigsuspend, so one arriving between the check and the
 * sleep is never lost. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_stop(int sig) {
    (void)sig;
    stop = 1;
}

static void on_child(int sig) {
    (void)sig;
    int saved = errno;
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
    errno = saved;
}

int main(void) {
    if (getpid() != 1)
        fprintf(stderr, "pause: warning: not pid 1\n");
    sigset_t block, wait_mask;
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGCHLD);
    if (sigprocmask(SIG_BLOCK, &block, &wait_mask) != 0) {
        perror("pause: sigprocmask");
        return 1;
    }
    sigdelset(&wait_mask, SIGTERM);
    sigdelset(&wait_mask, SIGINT);
    sigdelset(&wait_mask, SIGCHLD);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = on_child;
    sa.sa_flags = SA_NOCLDSTOP | SA_RESTART;
    sigaction(SIGCHLD, &sa, NULL);
    while (!stop)
        sigsuspend(&wait_mask);
    return 0;
}
