/* Zombies and orphans: a dead child is a zombie ('Z' in /proc) until reaped; orphans are
 * reparented to pid 1 (this program runs as pid 1 natively and in the sandbox) or to the
 * nearest PR_SET_CHILD_SUBREAPER; PR_SET_PDEATHSIG fires when the parent dies; SIGCHLD with
 * SA_NOCLDWAIT and SIG_IGN auto-reap. */
#include "moat_test.h"
#include <sys/prctl.h>

static char state_of(pid_t p) {
    char path[64], buf[512] = {0};
    snprintf(path, sizeof path, "/proc/%d/stat", p);
    FILE *f = fopen(path, "r");
    if (!f) return '-';
    if (!fgets(buf, sizeof buf, f)) buf[0] = 0;
    fclose(f);
    char *r = strrchr(buf, ')');
    return r ? r[2] : '?';
}

static volatile sig_atomic_t got_usr1;
static void on_usr1(int s) { (void)s; got_usr1 = 1; }

int main(void) {
    setup();
    printf("I am pid 1: %s\n", getpid() == 1 ? "yes" : "no");
    pid_t p = fork();
    if (p == 0) _exit(4);
    sleep_ms(50);
    printf("dead child's state before reaping: %c\n", state_of(p));
    reap("zombie", p);
    printf("after reaping: %c\n", state_of(p));

    // An orphan is adopted by pid 1 (us) and we can reap it.
    int pp[2], gop[2]; /* pp: the grandchild's pid up; gop: "go" down */
    pipe(pp);
    pipe(gop);
    p = fork();
    if (p == 0) {
        pid_t g = fork();
        if (g == 0) {
            char c;
            read(gop[0], &c, 1); /* wait until our parent is gone */
            _exit(getppid() == 1 ? 21 : 22);
        }
        char b[16];
        snprintf(b, sizeof b, "%d", g);
        write(pp[1], b, strlen(b) + 1);
        _exit(0);
    }
    char gb[16] = {0};
    read(pp[0], gb, sizeof gb);
    pid_t g = atoi(gb);
    reap("middle process", p);
    write(gop[1], "go", 1);
    int st;
    pid_t r = waitpid(g, &st, 0);
    printf("orphan reaped by pid 1: %s, %s\n", r == g ? "yes" : "no", wstatus(st));

    // A subreaper adopts its orphaned grandchildren.
    p = fork();
    if (p == 0) {
        prctl(PR_SET_CHILD_SUBREAPER, 1);
        int v = 0;
        prctl(PR_GET_CHILD_SUBREAPER, &v);
        printf("  subreaper flag: %d\n", v);
        int q[2];
        pipe(q);
        pid_t m = fork();
        if (m == 0) {
            pid_t gg = fork();
            if (gg == 0) {
                char c;
                read(q[0], &c, 1);
                _exit(0);
            }
            _exit(0);
        }
        waitpid(m, NULL, 0);
        /* the grandchild is now ours */
        pid_t who = 0;
        int sst = 0;
        write(q[1], "x", 1);
        who = wait(&sst);
        printf("  subreaper reaped its grandchild: %s\n", who > 0 ? "yes" : "no");
        _exit(0);
    }
    reap("subreaper", p);

    // getppid() in the adopted child names the subreaper.
    p = fork();
    if (p == 0) {
        prctl(PR_SET_CHILD_SUBREAPER, 1);
        pid_t me = getpid();
        int q[2];
        pipe(q);
        pid_t m = fork();
        if (m == 0) {
            if (fork() == 0) {
                char c;
                read(q[0], &c, 1);
                _exit(getppid() == me ? 50 : 51);
            }
            _exit(0);
        }
        waitpid(m, NULL, 0);
        write(q[1], "x", 1);
        int s2;
        wait(&s2);
        printf("  adopted grandchild's getppid() is the subreaper: %s\n", WEXITSTATUS(s2) == 50 ? "yes" : "no");
        _exit(0);
    }
    reap("subreaper 2", p);

    // PR_SET_PDEATHSIG.
    int q[2];
    pipe(q);
    p = fork();
    if (p == 0) {
        pid_t c = fork();
        if (c == 0) {
            signal(SIGUSR1, on_usr1);
            prctl(PR_SET_PDEATHSIG, SIGUSR1);
            int v = 0;
            prctl(PR_GET_PDEATHSIG, &v);
            write(q[1], "r", 1);
            while (!got_usr1) pause();
            _exit(v == SIGUSR1 ? 40 : 41);
        }
        char c2;
        read(q[0], &c2, 1);
        _exit(0);
    }
    reap("parent of the pdeathsig child", p);
    r = wait(&st);
    printf("pdeathsig child (adopted by us, 40 = got SIGUSR1): %s\n", wstatus(st));

    // SIGCHLD ignored: children are reaped automatically.
    signal(SIGCHLD, SIG_IGN);
    p = fork();
    if (p == 0) _exit(1);
    sleep_ms(50);
    rep_err("wait with SIGCHLD ignored", waitpid(p, &st, 0));
    signal(SIGCHLD, SIG_DFL);
    struct sigaction sa = {0};
    sa.sa_handler = SIG_DFL;
    sa.sa_flags = SA_NOCLDWAIT;
    sigaction(SIGCHLD, &sa, NULL);
    p = fork();
    if (p == 0) _exit(1);
    sleep_ms(50);
    rep_err("wait with SA_NOCLDWAIT", waitpid(p, &st, 0));
    done();
}
