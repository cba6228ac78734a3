/* Copied from the project's shared OCI runtime benchmark harness (shared/bench); keep in sync with it. */
/* timed: run a command with a timeout and report its wall time measured with
 * CLOCK_MONOTONIC (immune to clock_settime/NTP steps of CLOCK_REALTIME).
 * Host-side helper of run.sh; replaces coreutils `timeout` there.
 *
 *   timed [-t TIMEOUT_S] [-k KILL_AFTER_S] [-o FILE] -- CMD [ARGS...]
 *
 * The command runs in its own process group.  On timeout the group gets
 * SIGTERM, and SIGKILL KILL_AFTER_S seconds later if it is still alive.
 * Exit status: the command's (128+N if killed by signal N), 124 if it timed
 * out and died of the SIGTERM, 137 if SIGKILL was needed, 125 on usage or
 * internal errors, 127 if CMD cannot be executed.
 * The elapsed time (fork to reap) is written as "ELAPSED_NS\n" to FILE, or
 * as "timed: elapsed_ns=N" to stderr without -o.
 * Built with: gcc -O2 -static -o timed timed.c */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int usage(void)
{
    fprintf(stderr, "usage: timed [-t TIMEOUT_S] [-k KILL_AFTER_S] [-o FILE] -- CMD [ARGS...]\n");
    return 125;
}

/* Wait for SIGCHLD (already blocked) until deadline; returns 1 if the child
 * was reaped (status in *st), 0 on deadline. */
static int wait_until(pid_t pid, uint64_t deadline, int *st)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    for (;;) {
        pid_t r = waitpid(pid, st, WNOHANG);
        if (r == pid)
            return 1;
        if (r < 0 && errno != EINTR) {
            perror("timed: waitpid");
            exit(125);
        }
        if (deadline == 0) {
            sigwaitinfo(&set, NULL);
            continue;
        }
        uint64_t now = mono_ns();
        if (now >= deadline)
            return 0;
        uint64_t left = deadline - now;
        struct timespec ts = {(time_t)(left / 1000000000ull), (long)(left % 1000000000ull)};
        sigtimedwait(&set, NULL, &ts);
    }
}

int main(int argc, char **argv)
{
    double timeout_s = 0, kill_after_s = 5;
    const char *out = NULL;
    int opt;
    while ((opt = getopt(argc, argv, "+t:k:o:")) != -1) {
        switch (opt) {
        case 't': timeout_s = strtod(optarg, NULL); break;
        case 'k': kill_after_s = strtod(optarg, NULL); break;
        case 'o': out = optarg; break;
        default: return usage();
        }
    }
    if (optind >= argc)
        return usage();

    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigprocmask(SIG_BLOCK, &set, &old);

    uint64_t t0 = mono_ns();
    pid_t pid = fork();
    if (pid < 0) {
        perror("timed: fork");
        return 125;
    }
    if (pid == 0) {
        setpgid(0, 0);
        sigprocmask(SIG_SETMASK, &old, NULL);
        execvp(argv[optind], &argv[optind]);
        fprintf(stderr, "timed: exec %s: %s\n", argv[optind], strerror(errno));
        _exit(127);
    }
    setpgid(pid, pid); /* also from the parent: no race with the kill below */

    int st = 0, timed_out = 0, killed = 0;
    uint64_t deadline = timeout_s > 0 ? t0 + (uint64_t)(timeout_s * 1e9) : 0;
    if (!wait_until(pid, deadline, &st)) {
        timed_out = 1;
        kill(-pid, SIGTERM);
        kill(pid, SIGTERM);
        if (!wait_until(pid, mono_ns() + (uint64_t)(kill_after_s * 1e9), &st)) {
            killed = 1;
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
            wait_until(pid, 0, &st);
        }
    }
    uint64_t el = mono_ns() - t0;
    /* the group may outlive its leader (e.g. a runtime's helpers): end it */
    if (timed_out)
        kill(-pid, SIGKILL);

    if (out) {
        FILE *f = fopen(out, "w");
        if (!f || fprintf(f, "%llu\n", (unsigned long long)el) < 0 || fclose(f) != 0) {
            perror("timed: write elapsed");
            return 125;
        }
    } else {
        fprintf(stderr, "timed: elapsed_ns=%llu\n", (unsigned long long)el);
    }
    if (timed_out) {
        fprintf(stderr, "timed: timed out after %.1fs%s\n", timeout_s, killed ? " (SIGKILL)" : "");
        return killed ? 137 : 124;
    }
    if (WIFEXITED(st))
        return WEXITSTATUS(st);
    if (WIFSIGNALED(st))
        return 128 + WTERMSIG(st);
    return 125;
}
