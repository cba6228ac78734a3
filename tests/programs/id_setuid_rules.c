/* Credential changes as Linux makes them, each in a child of its own that starts as root
 * with every capability: setreuid/setregid's saved-id rule, seteuid and back, setuid of
 * root (all three ids) and of an unprivileged process (effective only), setresuid's
 * per-field checks, capabilities lost on leaving root (kept with PR_SET_KEEPCAPS, except
 * ambient), setgroups sorting and its limits, setfsuid's return values. */
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <stdio.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void ids(const char *what, long r) {
    uid_t ru, eu, su;
    gid_t rg, eg, sg;
    getresuid(&ru, &eu, &su);
    getresgid(&rg, &eg, &sg);
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2];
    syscall(SYS_capget, &h, d);
    int amb = prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_NET_BIND_SERVICE, 0, 0);
    printf("%-34s %2ld %-6s uid %u/%u/%u gid %u/%u/%u eff %s prm %s amb %d\n", what, r,
           r < 0 ? strerrorname_np(errno) : "", ru, eu, su, rg, eg, sg,
           d[0].effective ? "some" : "none", d[0].permitted ? "some" : "none", amb);
}

#define CASE(name, ...)                                                                     \
    do {                                                                                   \
        fflush(stdout);                                                                    \
        pid_t c = fork();                                                                  \
        if (c == 0) {                                                                      \
            printf("-- %s\n", name);                                                       \
            __VA_ARGS__;                                                                        \
            fflush(stdout);                                                                \
            _exit(0);                                                                      \
        }                                                                                  \
        waitpid(c, 0, 0);                                                                  \
    } while (0)

int main(void) {
    CASE("setreuid", {
        ids("setreuid(-1, 1000)", setreuid(-1, 1000));
        ids("setreuid(-1, 0) back", setreuid(-1, 0));
        ids("setreuid(1000, -1)", setreuid(1000, -1));
        ids("setreuid(-1, 2000) unpriv", setreuid(-1, 2000));
        ids("setreuid(0, -1) from saved", setreuid(0, -1));
    });
    CASE("setreuid swap", {
        ids("setreuid(1000, 2000)", setreuid(1000, 2000));
        ids("setreuid(2000, 1000) swap", setreuid(2000, 1000));
        ids("setreuid(-1, 2000)", setreuid(-1, 2000));
        ids("setreuid(3000, -1)", setreuid(3000, -1));
    });
    CASE("seteuid", {
        ids("seteuid(1000)", seteuid(1000));
        ids("seteuid(0)", seteuid(0));
        ids("setegid(1000)", setegid(1000));
        ids("setegid(0)", setegid(0));
        ids("setregid(-1, 1000)", setregid(-1, 1000));
        ids("setregid(2000, -1)", setregid(2000, -1));
    });
    CASE("setuid root", {
        ids("setuid(1000)", setuid(1000));
        ids("setuid(0)", setuid(0));
    });
    CASE("setuid unprivileged", {
        ids("setresuid(1000, 2000, 0)", setresuid(1000, 2000, 0));
        ids("setuid(1000)", setuid(1000));
        ids("setuid(0) (saved)", setuid(0));
        ids("setuid(3000)", setuid(3000));
    });
    CASE("setresuid", {
        ids("setresuid(1000, 1000, 1000)", setresuid(1000, 1000, 1000));
        ids("setresuid(-1, 0, -1)", setresuid(-1, 0, -1));
        ids("setresuid(1000, -1, 2000)", setresuid(1000, -1, 2000));
        ids("setresgid(5, 6, 7)", setresgid(5, 6, 7));
    });
    CASE("keepcaps", {
        prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_BIND_SERVICE, 0, 0);
        /* raising ambient needs it in permitted and inheritable */
        struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
        struct __user_cap_data_struct d[2];
        syscall(SYS_capget, &h, d);
        d[0].inheritable |= 1u << CAP_NET_BIND_SERVICE;
        syscall(SYS_capset, &h, d);
        prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_BIND_SERVICE, 0, 0);
        ids("with ambient", 0);
        ids("PR_SET_KEEPCAPS 1", prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0));
        ids("setresuid(1000, 1000, 1000)", setresuid(1000, 1000, 1000));
        ids("setuid(0) without caps", setuid(0));
    });
    CASE("groups", {
        gid_t g[] = {30, 10, 20, 10};
        ids("setgroups(4, {30,10,20,10})", setgroups(4, g));
        gid_t back[8];
        int n = getgroups(8, back);
        printf("getgroups %d:", n);
        for (int i = 0; i < n; i++) printf(" %u", back[i]);
        printf("\n");
        ids("getgroups(1, ...) too small", getgroups(1, back));
        ids("setgroups(-1)", syscall(SYS_setgroups, -1, g));
        ids("setgroups(65537)", syscall(SYS_setgroups, 65537, g));
        ids("setgroups bad pointer", syscall(SYS_setgroups, 2, (void *)8));
        ids("setgroups(0)", setgroups(0, 0));
        ids("getgroups now", getgroups(0, 0));
        setresuid(1000, 1000, 1000);
        ids("setgroups as 1000", setgroups(1, g));
    });
    CASE("setfsuid", {
        printf("setfsuid(1000) -> %d\n", setfsuid(1000));
        printf("setfsuid(-1) -> %d\n", setfsuid(-1));
        printf("setfsuid(0) -> %d\n", setfsuid(0));
        printf("setfsgid(7) -> %d\n", setfsgid(7));
        printf("setfsgid(-1) -> %d\n", setfsgid(-1));
        setresuid(1000, 1000, 1000);
        printf("unpriv setfsuid(0) -> %d\n", setfsuid(0));
        printf("unpriv setfsuid(-1) -> %d\n", setfsuid(-1));
    });
    printf("done: ok\n");
    return 0;
}
