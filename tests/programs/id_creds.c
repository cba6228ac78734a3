/* Credentials on virtual identities: getresuid/getresgid, setgroups/getgroups, setresuid/
 * setresgid, seteuid and back through the saved uid, setuid to nobody drops every capability
 * and makes root's 0600 file unreadable (EACCES), no way back to root (EPERM), kill of a root
 * process (EPERM), sticky /tmp, files created by the new uid; capget/capset (dropping
 * CAP_CHOWN makes chown fail, raising beyond the permitted set fails), PR_SET_KEEPCAPS,
 * setfsuid, the permission checks of open/access/unlink. */
#include "moat_test.h"
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <sys/fsuid.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>

static void ids(const char *what) {
    uid_t r, e, s;
    gid_t gr, ge, gs;
    getresuid(&r, &e, &s);
    getresgid(&gr, &ge, &gs);
    gid_t g[16];
    int n = getgroups(16, g);
    printf("%s: uid %u/%u/%u gid %u/%u/%u groups", what, r, e, s, gr, ge, gs);
    for (int i = 0; i < n; i++) printf(" %u", g[i]);
    printf("\n");
}
static void caps(const char *what) {
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2];
    syscall(SYS_capget, &h, d);
    printf("%s: eff has SETUID=%d CHOWN=%d DAC_OVERRIDE=%d KILL=%d; eff==0: %s, prm==0: %s\n", what, !!(d[0].effective & (1 << CAP_SETUID)),
           !!(d[0].effective & (1 << CAP_CHOWN)), !!(d[0].effective & (1 << CAP_DAC_OVERRIDE)), !!(d[0].effective & (1 << CAP_KILL)),
           d[0].effective == 0 && d[1].effective == 0 ? "yes" : "no", d[0].permitted == 0 && d[1].permitted == 0 ? "yes" : "no");
}

int main(void) {
    setup();
    ids("start");
    caps("start caps");
    int fd = open("/tmp/id_creds.secret", O_CREAT | O_WRONLY | O_TRUNC, 0600);
    write(fd, "secret", 6);
    close(fd);
    chmod("/tmp/id_creds.secret", 0600);
    fd = open("/tmp/id_creds.public", O_CREAT | O_WRONLY | O_TRUNC, 0644);
    close(fd);
    chmod("/tmp/id_creds.public", 0644);

    gid_t gl[3] = {100, 200, 300};
    rep("setgroups", setgroups(3, gl));
    ids("after setgroups");
    rep_err("getgroups with a too small array", getgroups(1, gl));
    printf("getgroups(0) counts: %d\n", getgroups(0, NULL));

    pid_t c = fork();
    if (c == 0) {
        rep("  setresgid 50/60/70", setresgid(50, 60, 70));
        rep("  setresuid 1000/1001/0", setresuid(1000, 1001, 0));
        ids("  after setres*id");
        caps("  caps with euid 1001 (saved 0)");
        rep("  seteuid back to 0 via the saved uid", seteuid(0));
        ids("  after seteuid(0)");
        caps("  caps with euid 0 again");
        _exit(0);
    }
    reap("setres child", c);

    c = fork();
    if (c == 0) {
        setgroups(0, NULL);
        rep("  setgid 65534", setgid(65534));
        rep("  setuid 65534", setuid(65534));
        ids("  nobody");
        caps("  nobody caps");
        rep_err("  open root's 0600 file", open("/tmp/id_creds.secret", O_RDONLY));
        rep("  open root's 0644 file for reading", open("/tmp/id_creds.public", O_RDONLY));
        rep_err("  open it for writing", open("/tmp/id_creds.public", O_WRONLY));
        rep_err("  access W_OK", access("/tmp/id_creds.public", W_OK));
        rep_err("  unlink root's file in sticky /tmp", unlink("/tmp/id_creds.public"));
        rep_err("  chmod root's file", chmod("/tmp/id_creds.public", 0666));
        rep_err("  chown", chown("/tmp/id_creds.public", 65534, 65534));
        rep_err("  create a file in /", open("/nobody-file", O_CREAT | O_WRONLY, 0644));
        rep_err("  list /root (0700)", open("/root", O_RDONLY | O_DIRECTORY));
        int f = open("/tmp/id_creds.mine", O_CREAT | O_WRONLY | O_TRUNC, 0644);
        rep("  create a file in /tmp", f);
        struct stat st;
        fstat(f, &st);
        printf("  owned by %u:%u\n", st.st_uid, st.st_gid);
        rep("  chmod own file", fchmod(f, 0600));
        rep_err("  setuid(0)", setuid(0));
        rep_err("  setresuid(-1, 0, -1)", setresuid(-1, 0, -1));
        rep_err("  setgroups", setgroups(1, gl));
        rep_err("  kill init (root)", kill(1, 0));
        rep_err("  setrlimit above the hard limit", setrlimit(RLIMIT_NOFILE, &(struct rlimit){4096, 4096}));
        rep_err("  sethostname", sethostname("x", 1));
        rep_err("  mknod a device", mknod("/tmp/id_creds.dev", S_IFCHR | 0600, 0x103));
        unlink("/tmp/id_creds.mine");
        _exit(0);
    }
    reap("nobody child", c);

    c = fork();
    if (c == 0) {
        rep("  PR_SET_KEEPCAPS", prctl(PR_SET_KEEPCAPS, 1));
        setresuid(1000, 1000, 1000);
        caps("  after setuid with KEEPCAPS");
        struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
        struct __user_cap_data_struct d[2];
        syscall(SYS_capget, &h, d);
        d[0].effective = d[0].permitted & (1 << CAP_DAC_OVERRIDE);
        d[1].effective = 0;
        rep("  capset raising DAC_OVERRIDE into the effective set", syscall(SYS_capset, &h, d));
        rep("  open root's 0600 file with CAP_DAC_OVERRIDE", open("/tmp/id_creds.secret", O_RDONLY));
        _exit(0);
    }
    reap("keepcaps child", c);

    c = fork();
    if (c == 0) {
        struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
        struct __user_cap_data_struct d[2];
        syscall(SYS_capget, &h, d);
        d[0].effective &= ~(1u << CAP_CHOWN);
        d[0].permitted &= ~(1u << CAP_CHOWN);
        rep("  capset dropping CAP_CHOWN", syscall(SYS_capset, &h, d));
        caps("  after the drop");
        rep_err("  chown as root without CAP_CHOWN", chown("/tmp/id_creds.public", 5, 5));
        d[0].permitted |= 1u << CAP_CHOWN;
        rep_err("  capset raising it back", syscall(SYS_capset, &h, d));
        h.pid = 1;
        rep_err("  capset on another process", syscall(SYS_capset, &h, d));
        h.version = 0x1234;
        rep_err("  capget bad version", syscall(SYS_capget, &h, d));
        printf("  kernel wrote back its version: %#x\n", h.version);
        _exit(0);
    }
    reap("capset child", c);

    c = fork();
    if (c == 0) {
        printf("  setfsuid returns the old fsuid: %d\n", setfsuid(65534));
        rep_err("  open root's 0600 file with fsuid 65534", open("/tmp/id_creds.secret", O_RDONLY));
        setfsuid(0);
        rep("  with fsuid 0 again", open("/tmp/id_creds.secret", O_RDONLY));
        _exit(0);
    }
    reap("fsuid child", c);
    rep("chown as root", chown("/tmp/id_creds.public", 5, 6));
    struct stat st;
    stat("/tmp/id_creds.public", &st);
    printf("owner now %u:%u\n", st.st_uid, st.st_gid);
    unlink("/tmp/id_creds.secret");
    unlink("/tmp/id_creds.public");
    done();
}
