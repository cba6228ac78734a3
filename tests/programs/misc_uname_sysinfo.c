/* System information: uname (sysname, nodename = the sandbox hostname, machine, a non-empty
 * release), sethostname/setdomainname as root and their limits, gethostname truncation, sysinfo
 * (uptime, memory consistent with /proc/meminfo, procs, mem_unit), getrandom (flags,
 * GRND_NONBLOCK, EINVAL), /dev/urandom and /dev/random, getcpu, getpriority/setpriority,
 * the personality(0xffffffff) query. */
#include "moat_test.h"
#include <fcntl.h>
#include <sched.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/sysinfo.h>
#include <sys/syscall.h>
#include <sys/utsname.h>

int main(void) {
    setup();
    struct utsname u;
    uname(&u);
    printf("sysname=%s nodename=%s machine=%s release non-empty=%s domainname=%s\n", u.sysname, u.nodename, u.machine,
           u.release[0] ? "yes" : "no", u.domainname);
    char h[256];
    gethostname(h, sizeof h);
    printf("gethostname: %s\n", h);
    rep_err("gethostname into 4 bytes", gethostname(h, 4));
    rep("sethostname", sethostname("renamed-host", 12));
    uname(&u);
    printf("nodename now: %s\n", u.nodename);
    int fd = open("/proc/sys/kernel/hostname", O_RDONLY);
    char ph[64] = {0};
    read(fd, ph, sizeof ph - 1);
    close(fd);
    printf("/proc/sys/kernel/hostname: %s", ph);
    char longname[70];
    memset(longname, 'h', sizeof longname);
    rep_err("sethostname 70 bytes", sethostname(longname, sizeof longname));
    rep("setdomainname", setdomainname("example", 7));
    uname(&u);
    printf("domainname now: %s\n", u.domainname);
    sethostname("moat-test", 9);

    struct sysinfo si;
    rep("sysinfo", sysinfo(&si));
    printf("uptime > 0: %s, procs >= 1: %s, mem_unit > 0: %s, totalram >= freeram: %s\n", si.uptime > 0 ? "yes" : "no",
           si.procs >= 1 ? "yes" : "no", si.mem_unit > 0 ? "yes" : "no", si.totalram >= si.freeram ? "yes" : "no");
    FILE *f = fopen("/proc/meminfo", "r");
    unsigned long mt = 0;
    if (f) {
        if (fscanf(f, "MemTotal: %lu", &mt) != 1) mt = 0;
        fclose(f);
    }
    printf("sysinfo totalram == MemTotal: %s\n", (unsigned long long)si.totalram * si.mem_unit / 1024 == mt ? "yes" : "no");

    unsigned char b[64];
    printf("getrandom 64: %zd\n", getrandom(b, sizeof b, 0));
    printf("getrandom GRND_NONBLOCK: %zd\n", getrandom(b, 16, GRND_NONBLOCK));
    printf("getrandom GRND_RANDOM: %zd\n", getrandom(b, 16, GRND_RANDOM));
    rep_err("getrandom bad flags", getrandom(b, 16, 0x100));
    int nz = 0;
    for (int i = 0; i < 64; i++) nz |= b[i];
    check("random bytes are not all zero", nz);
    unsigned char x[32], y[32];
    int ur = open("/dev/urandom", O_RDONLY);
    read(ur, x, 32);
    read(ur, y, 32);
    check("/dev/urandom gives different blocks", memcmp(x, y, 32) != 0);
    int rnd = open("/dev/random", O_RDONLY | O_NONBLOCK);
    printf("/dev/random nonblocking read: %zd\n", read(rnd, x, 16));

    unsigned cpu = 9999, node = 9999;
    rep("getcpu", syscall(SYS_getcpu, &cpu, &node, NULL));
    printf("cpu < ONLN: %s, node 0: %s\n", cpu < (unsigned)sysconf(_SC_NPROCESSORS_ONLN) ? "yes" : "no", node == 0 ? "yes" : "no");
    errno = 0;
    printf("getpriority: %d %s\n", getpriority(PRIO_PROCESS, 0), errname(errno));
    rep("setpriority 5", setpriority(PRIO_PROCESS, 0, 5));
    printf("getpriority now: %d\n", getpriority(PRIO_PROCESS, 0));
    printf("nice(2): %d\n", nice(2));
    rep_err("getpriority of a missing pid", getpriority(PRIO_PROCESS, 999999));
    printf("personality query: %#lx\n", syscall(SYS_personality, 0xffffffffUL));
    done();
}
