/* prctl: PR_SET_NAME/PR_GET_NAME (and /proc comm files, 15-byte truncation), PR_GET_DUMPABLE/
 * PR_SET_DUMPABLE, PR_SET_NO_NEW_PRIVS, PR_SET_CHILD_SUBREAPER, PR_SET_PDEATHSIG validation,
 * PR_GET_KEEPCAPS, PR_CAPBSET_READ, PR_GET_TIMERSLACK, PR_SET_MM refused, unknown options. */
#include "moat_test.h"
#include <linux/capability.h>
#include <sys/prctl.h>

static void comm_file(const char *path) {
    char b[64] = {0};
    FILE *f = fopen(path, "r");
    if (f) {
        if (!fgets(b, sizeof b, f)) b[0] = 0;
        fclose(f);
    }
    b[strcspn(b, "\n")] = 0;
    printf("%s: %s\n", path, b);
}

int main(void) {
    setup();
    char name[32] = {0};
    prctl(PR_GET_NAME, name);
    printf("initial name: %s\n", name);
    rep("PR_SET_NAME", prctl(PR_SET_NAME, "renamed-proc"));
    prctl(PR_GET_NAME, name);
    printf("name: %s\n", name);
    comm_file("/proc/self/comm");
    prctl(PR_SET_NAME, "a-very-long-process-name-here");
    prctl(PR_GET_NAME, name);
    printf("long name truncated: %s (%zu)\n", name, strlen(name));
    FILE *f = fopen("/proc/self/stat", "r");
    char st[256] = {0};
    if (f) {
        if (!fgets(st, sizeof st, f)) st[0] = 0;
        fclose(f);
    }
    char *lp = strchr(st, '('), *rp = strrchr(st, ')');
    if (lp && rp) *rp = 0;
    printf("/proc/self/stat comm: %s\n", lp ? lp + 1 : "?");
    f = fopen("/proc/self/comm", "w");
    if (f) {
        fputs("via-comm-file", f);
        fclose(f);
    }
    prctl(PR_GET_NAME, name);
    printf("after writing /proc/self/comm: %s\n", name);
    pid_t p = fork();
    if (p == 0) {
        char n2[32] = {0};
        prctl(PR_GET_NAME, n2);
        printf("  child inherits name: %s\n", n2);
        _exit(0);
    }
    reap("child", p);

    printf("PR_GET_DUMPABLE: %d\n", prctl(PR_GET_DUMPABLE));
    rep("PR_SET_DUMPABLE 0", prctl(PR_SET_DUMPABLE, 0));
    printf("PR_GET_DUMPABLE: %d\n", prctl(PR_GET_DUMPABLE));
    prctl(PR_SET_DUMPABLE, 1);
    rep_err("PR_SET_DUMPABLE 7", prctl(PR_SET_DUMPABLE, 7));

    printf("PR_GET_NO_NEW_PRIVS: %d\n", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
    p = fork();
    if (p == 0) {
        rep("  PR_SET_NO_NEW_PRIVS", prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
        printf("  PR_GET_NO_NEW_PRIVS: %d\n", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
        rep_err("  PR_SET_NO_NEW_PRIVS 0 (cannot unset)", prctl(PR_SET_NO_NEW_PRIVS, 0, 0, 0, 0));
        rep_err("  PR_SET_NO_NEW_PRIVS with extra args", prctl(PR_SET_NO_NEW_PRIVS, 1, 1, 0, 0));
        _exit(0);
    }
    reap("nnp child", p);

    int v = -1;
    prctl(PR_GET_CHILD_SUBREAPER, &v);
    printf("PR_GET_CHILD_SUBREAPER: %d\n", v);
    rep_err("PR_SET_PDEATHSIG 99", prctl(PR_SET_PDEATHSIG, 99));
    rep("PR_SET_PDEATHSIG SIGHUP", prctl(PR_SET_PDEATHSIG, SIGHUP));
    prctl(PR_GET_PDEATHSIG, &v);
    printf("PR_GET_PDEATHSIG: %s\n", sigabbrev_np(v));
    prctl(PR_SET_PDEATHSIG, 0);
    printf("PR_GET_KEEPCAPS: %d\n", prctl(PR_GET_KEEPCAPS));
    printf("PR_CAPBSET_READ CAP_SETUID: %d\n", prctl(PR_CAPBSET_READ, CAP_SETUID));
    rep_err("PR_CAPBSET_READ 200", prctl(PR_CAPBSET_READ, 200));
    check("PR_GET_TIMERSLACK > 0", prctl(PR_GET_TIMERSLACK) > 0);
    printf("PR_GET_SECCOMP: %d\n", prctl(PR_GET_SECCOMP));
    printf("PR_GET_THP_DISABLE: %d\n", prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0));
    rep_err("unknown option", prctl(12345, 0, 0, 0, 0));
    done();
}
