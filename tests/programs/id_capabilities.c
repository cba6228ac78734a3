/* capget and capset with every header version (v1, v2, v3 and unknown ones), NULL data
 * (libcap's probe), bad pids (negative, another process, none) and bad pointers; then
 * capset's rules as root: permitted only shrinks, effective within permitted, inheritable
 * within inheritable plus permitted (without CAP_SETPCAP) and within the bounding set,
 * bits past the last capability ignored, a v1 header clearing the upper 32 capabilities. */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static long capget_(struct __user_cap_header_struct *h, struct __user_cap_data_struct *d) {
    return syscall(SYS_capget, h, d);
}
static long capset_(struct __user_cap_header_struct *h, struct __user_cap_data_struct *d) {
    return syscall(SYS_capset, h, d);
}

static void show(const char *what, long r) {
    printf("%-44s %ld %s\n", what, r, r < 0 ? strerrorname_np(errno) : "");
}

static void dump(const char *what) {
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2];
    memset(d, 0, sizeof d);
    long r = capget_(&h, d);
    printf("%s: %ld eff %08x%08x prm %08x%08x inh %08x%08x\n", what, r, d[1].effective,
           d[0].effective, d[1].permitted, d[0].permitted, d[1].inheritable, d[0].inheritable);
}

int main(void) {
    struct __user_cap_header_struct h;
    struct __user_cap_data_struct d[2], sentinel[3];
    unsigned versions[] = {_LINUX_CAPABILITY_VERSION_1, _LINUX_CAPABILITY_VERSION_2,
                           _LINUX_CAPABILITY_VERSION_3, 0, 0x12345678};
    for (int i = 0; i < 5; i++) {
        char what[64];
        h.version = versions[i];
        h.pid = 0;
        snprintf(what, sizeof what, "capget v%08x NULL data", versions[i]);
        long r = capget_(&h, 0);
        show(what, r);
        printf("  header version now %08x\n", h.version);
        h.version = versions[i];
        memset(sentinel, 0xee, sizeof sentinel);
        snprintf(what, sizeof what, "capget v%08x", versions[i]);
        show(what, capget_(&h, sentinel));
        /* how many structs were written: v1 one, v2/v3 two */
        printf("  words written %d\n",
               sentinel[0].effective != 0xeeeeeeee ? (sentinel[1].effective != 0xeeeeeeee ? 2 : 1) : 0);
    }
    h.version = _LINUX_CAPABILITY_VERSION_3;
    h.pid = -1;
    show("capget pid -1", capget_(&h, d));
    h.pid = 99999;
    show("capget pid 99999 (none)", capget_(&h, d));
    h.pid = 1;
    show("capget pid 1 (self)", capget_(&h, d));
    h.pid = 0;
    show("capget bad data", capget_(&h, (void *)8));
    show("capget bad header", capget_((void *)8, d));

    pid_t c = fork();
    if (c == 0) {
        pause();
        _exit(0);
    }
    h.pid = c;
    show("capget child", capget_(&h, d));
    printf("  child eff %08x%08x\n", d[1].effective, d[0].effective);
    show("capset child", capset_(&h, d));
    kill(c, SIGKILL);
    waitpid(c, 0, 0);

    h.version = 0x12345678;
    h.pid = 0;
    capget_(&(struct __user_cap_header_struct){_LINUX_CAPABILITY_VERSION_3, 0}, d);
    show("capset unknown version", capset_(&h, d));
    printf("  header version now %08x\n", h.version);
    h.version = _LINUX_CAPABILITY_VERSION_3;
    show("capset bad data", capset_(&h, (void *)8));

    /* Start from an empty inheritable set whatever the runtime gave (runc and moat give the
     * spec's, a native root has none). */
    capget_(&h, d);
    d[0].inheritable = d[1].inheritable = 0;
    show("capset clear inheritable", capset_(&h, d));
    dump("start");
    /* bits past the last capability are dropped, not refused */
    capget_(&h, d);
    d[1].effective |= 0x80000000;
    d[1].permitted |= 0x80000000;
    show("capset with bit 63", capset_(&h, d));
    dump("after bit 63");
    /* effective outside permitted */
    capget_(&h, d);
    d[0].permitted &= ~(1u << CAP_NET_RAW);
    show("capset eff not in prm", capset_(&h, d));
    d[0].effective &= ~(1u << CAP_NET_RAW);
    show("capset drop NET_RAW", capset_(&h, d));
    d[0].permitted |= 1u << CAP_NET_RAW;
    show("capset regain NET_RAW in prm", capset_(&h, d));
    /* inheritable: CAP_NET_RAW is in neither inheritable nor permitted now, but we have
     * CAP_SETPCAP, so only the bounding set limits it */
    capget_(&h, d);
    d[0].inheritable |= 1u << CAP_NET_RAW;
    show("capset inh NET_RAW with SETPCAP", capset_(&h, d));
    dump("after inh");
    prctl(PR_CAPBSET_DROP, CAP_MKNOD, 0, 0, 0);
    capget_(&h, d);
    d[0].inheritable |= 1u << CAP_MKNOD;
    show("capset inh MKNOD outside bounding", capset_(&h, d));
    /* without CAP_SETPCAP: inheritable within inheritable | permitted */
    capget_(&h, d);
    d[0].effective &= ~(1u << CAP_SETPCAP);
    d[0].inheritable = 0;
    d[1].inheritable = 0;
    show("capset drop eff SETPCAP", capset_(&h, d));
    d[0].inheritable = 1u << CAP_NET_RAW;
    show("capset inh NET_RAW without SETPCAP", capset_(&h, d));
    d[0].inheritable = 1u << CAP_CHOWN;
    show("capset inh CHOWN (in prm)", capset_(&h, d));
    dump("after no SETPCAP");
    /* v1: only the low 32 capabilities; the upper ones are cleared */
    h.version = _LINUX_CAPABILITY_VERSION_1;
    capget_(&h, d);
    show("capset v1", capset_(&h, d));
    dump("after v1");
    printf("done: ok\n");
    return 0;
}
