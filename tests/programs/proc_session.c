/* Sessions and process groups: setsid (and EPERM for a group leader), setpgid rules (join,
 * create, EPERM across sessions, EACCES after the child exec'd, ESRCH), getpgid/getsid of
 * others, kill(-pgrp) reaching every member, killpg, tcgetpgrp without a terminal. */
#include "moat_test.h"
#include <fcntl.h>
#include <sys/ioctl.h>

int main(void) {
    setup();
    pid_t me = getpid();
    printf("pgid == sid == pid for init: %s\n", getpgrp() == me && getsid(0) == me ? "yes" : "no");
    rep_err("setsid as a group leader", setsid());

    int q[2];
    pipe(q);
    pid_t p = fork();
    if (p == 0) {
        pid_t s = setsid();
        printf("  child setsid: %s, sid == pid: %s, pgid == pid: %s\n", s > 0 ? "ok" : errname(errno),
               getsid(0) == getpid() ? "yes" : "no", getpgrp() == getpid() ? "yes" : "no");
        rep_err("  setsid twice", setsid());
        rep_err("  setpgid into the parent's group (other session)", setpgid(0, getppid()));
        rep_err("  tcgetpgrp without a terminal", tcgetpgrp(0));
        rep_err("  open /dev/tty without a controlling terminal", open("/dev/tty", 0));
        _exit(0);
    }
    reap("setsid child", p);

    // setpgid: a new group, a second member joins it, kill(-pgid) gets both.
    pid_t a = fork();
    if (a == 0) {
        for (;;) pause();
    }
    rep("setpgid(a, a)", setpgid(a, a));
    pid_t b = fork();
    if (b == 0) {
        for (;;) pause();
    }
    rep("setpgid(b, a)", setpgid(b, a));
    printf("getpgid(b) == a: %s\n", getpgid(b) == a ? "yes" : "no");
    printf("getsid(b) == our sid: %s\n", getsid(b) == getsid(0) ? "yes" : "no");
    rep_err("setpgid to a missing group", setpgid(b, 999999));
    rep_err("setpgid of a non-child", setpgid(999999, 0));
    rep_err("setpgid negative pgid", setpgid(b, -1));
    rep("kill(-a, SIGTERM)", kill(-a, SIGTERM));
    int st1, st2;
    waitpid(a, &st1, 0);
    waitpid(b, &st2, 0);
    printf("both members: %s", wstatus(st1));
    printf(", %s\n", wstatus(st2));

    // killpg, and signals to an empty group.
    a = fork();
    if (a == 0) {
        setpgid(0, 0);
        write(q[1], "r", 1);
        for (;;) pause();
    }
    char c;
    read(q[0], &c, 1);
    rep("killpg", killpg(a, SIGKILL));
    reap("killpg member", a);
    rep_err("kill of an empty group", kill(-a, SIGTERM));

    // After exec, the parent can no longer change the child's group.
    p = fork();
    if (p == 0) {
        char *av[] = {"/bin/sleep", "1", NULL};
        execv(av[0], av);
        _exit(127);
    }
    sleep_ms(200);
    rep_err("setpgid of a child that exec'd", setpgid(p, p));
    kill(p, SIGKILL);
    reap("sleeper", p);
    rep_err("getpgid of a missing pid", getpgid(999999));
    rep_err("getsid of a missing pid", getsid(999999));
    done();
}
