/* A workload started as uid/gid 1000 (process.user; natively chroot --userspec): its ids and
 * groups, no capabilities, what it may read and write, and that it cannot become root. */
#include "moat_test.h"
#include <fcntl.h>
#include <linux/capability.h>
#include <sys/syscall.h>

int main(void) {
    setup();
    uid_t r, e, s;
    gid_t gr, ge, gs;
    getresuid(&r, &e, &s);
    getresgid(&gr, &ge, &gs);
    printf("uid %u/%u/%u gid %u/%u/%u groups %d\n", r, e, s, gr, ge, gs, getgroups(0, NULL));
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2];
    syscall(SYS_capget, &h, d);
    printf("capabilities all empty: %s\n", (d[0].effective | d[0].permitted | d[1].effective | d[1].permitted) == 0 ? "yes" : "no");
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "Uid:", 4) || !strncmp(line, "Gid:", 4) || !strncmp(line, "CapEff:", 7)) printf("status %s", line);
    if (f) fclose(f);
    rep_err("open /root (0700)", open("/root", O_RDONLY | O_DIRECTORY));
    rep_err("create a file in /", open("/u1000", O_CREAT | O_WRONLY, 0644));
    rep_err("write /etc/passwd", open("/etc/passwd", O_WRONLY));
    rep("read /etc/passwd", open("/etc/passwd", O_RDONLY));
    int fd = open("/tmp/id_user.f", O_CREAT | O_WRONLY | O_TRUNC, 0644);
    rep("create a file in /tmp", fd);
    struct stat st;
    fstat(fd, &st);
    printf("owned by %u:%u mode %04o\n", st.st_uid, st.st_gid, st.st_mode & 07777);
    unlink("/tmp/id_user.f");
    rep_err("setuid(0)", setuid(0));
    rep_err("setgid(0)", setgid(0));
    rep("setuid(1000) (own uid)", setuid(1000));
    rep_err("chroot", chroot("/tmp"));
    printf("I am pid 1: %s\n", getpid() == 1 ? "yes" : "no");
    done();
}
