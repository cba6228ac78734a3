/* System-wide /proc and /sys files that runtimes and libraries read: cpuinfo (processor count
 * agrees with sysconf and /sys/devices/system/cpu/online), meminfo (fields, ordering), stat
 * (cpu lines, btime, processes), uptime, loadavg format, filesystems, version, the
 * sys/kernel files (hostname = uts name, ostype, osrelease = uname release, pid_max,
 * random/boot_id stable, random/uuid fresh each read, cap_last_cap, ngroups_max, overflowuid),
 * sys/vm/overcommit_memory, sys/fs/nr_open, /sys/devices/system/cpu/{online,possible}. */
#include "moat_test.h"
#include <fcntl.h>
#include <sys/utsname.h>

static char *slurp(const char *p) {
    static char bufs[4][16384];
    static int k;
    char *buf = bufs[k++ % 4];
    int fd = open(p, O_RDONLY);
    if (fd < 0) return NULL;
    size_t n = 0;
    ssize_t r;
    while ((r = read(fd, buf + n, 16383 - n)) > 0) n += r;
    close(fd);
    buf[n] = 0;
    return buf;
}
static int count_range(const char *s) {
    int n = 0;
    while (s && *s && *s != '\n') {
        int a = atoi(s), b = a;
        const char *dash = strpbrk(s, "-,\n");
        if (dash && *dash == '-') b = atoi(dash + 1);
        n += b - a + 1;
        s = strchr(s, ',');
        if (s) s++;
    }
    return n;
}
static int is_uuid(const char *s) {
    if (!s || strlen(s) < 36) return 0;
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-') return 0;
        } else if (!strchr("0123456789abcdef", s[i]))
            return 0;
    }
    return 1;
}

int main(void) {
    setup();
    char *ci = slurp("/proc/cpuinfo");
    int procs = 0;
    for (char *p = ci; p && (p = strstr(p, "\nprocessor")); p++) procs++;
    if (ci && strncmp(ci, "processor", 9) == 0) procs++;
    long online = sysconf(_SC_NPROCESSORS_ONLN), conf = sysconf(_SC_NPROCESSORS_CONF);
    printf("cpuinfo processors == sysconf(NPROCESSORS_ONLN): %s\n", procs == online ? "yes" : "no");
    printf("cpuinfo has flags/model name/vendor_id: %s\n", ci && strstr(ci, "\nflags") && strstr(ci, "model name") && strstr(ci, "vendor_id") ? "yes" : "no");
    char *on = slurp("/sys/devices/system/cpu/online"), *po = slurp("/sys/devices/system/cpu/possible");
    printf("/sys/.../cpu/online count == ONLN: %s\n", count_range(on) == online ? "yes" : "no");
    printf("/sys/.../cpu/possible count >= online, == CONF: %s\n", count_range(po) >= count_range(on) && count_range(po) == conf ? "yes" : "no");
    printf("online starts with 0: %s\n", on && on[0] == '0' ? "yes" : "no");

    char *mi = slurp("/proc/meminfo");
    const char *keys[] = {"MemTotal:", "MemFree:", "MemAvailable:", "Buffers:", "Cached:", "SwapTotal:", "SwapFree:", "Shmem:"};
    int all = 1, order = 1;
    char *last = mi;
    for (int i = 0; i < 8; i++) {
        char *k = mi ? strstr(mi, keys[i]) : NULL;
        if (!k) all = 0;
        if (k && i < 3 && k < last) order = 0;
        if (k && i < 3) last = k;
    }
    printf("meminfo has the common fields: %s, first three in order: %s\n", all ? "yes" : "no", order ? "yes" : "no");
    unsigned long total = 0, avail = 0;
    if (mi) {
        sscanf(strstr(mi, "MemTotal:"), "MemTotal: %lu", &total);
        char *a = strstr(mi, "MemAvailable:");
        if (a) sscanf(a, "MemAvailable: %lu", &avail);
    }
    printf("MemTotal >= MemAvailable > 0: %s\n", total >= avail && avail > 0 ? "yes" : "no");
    printf("sysconf(_SC_PHYS_PAGES) matches MemTotal: %s\n", (unsigned long)sysconf(_SC_PHYS_PAGES) * 4 == total ? "yes" : "no");

    char *st = slurp("/proc/stat");
    int cpus = 0;
    for (char *p = st; p && (p = strstr(p, "\ncpu")); p++) cpus++;
    printf("stat: 'cpu ' line: %s, per-cpu lines == ONLN: %s, btime: %s, processes: %s, procs_running: %s\n",
           st && strncmp(st, "cpu ", 4) == 0 ? "yes" : "no", cpus == online ? "yes" : "no", st && strstr(st, "\nbtime ") ? "yes" : "no",
           st && strstr(st, "\nprocesses ") ? "yes" : "no", st && strstr(st, "\nprocs_running ") ? "yes" : "no");
    double up = -1, idle = -1;
    char *u = slurp("/proc/uptime");
    printf("uptime: two numbers: %s, positive: %s\n", u && sscanf(u, "%lf %lf", &up, &idle) == 2 ? "yes" : "no", up > 0 ? "yes" : "no");
    double l1, l5, l15;
    int run, tot, last_pid;
    char *la = slurp("/proc/loadavg");
    printf("loadavg format: %s\n", la && sscanf(la, "%lf %lf %lf %d/%d %d", &l1, &l5, &l15, &run, &tot, &last_pid) == 6 ? "yes" : "no");
    char *fs = slurp("/proc/filesystems");
    printf("filesystems lists proc, tmpfs, sysfs: %s\n", fs && strstr(fs, "\tproc") && strstr(fs, "\ttmpfs") && strstr(fs, "\tsysfs") ? "yes" : "no");
    char *ver = slurp("/proc/version");
    struct utsname un;
    uname(&un);
    printf("version starts with 'Linux version <release>': %s\n",
           ver && strncmp(ver, "Linux version ", 14) == 0 && strncmp(ver + 14, un.release, strlen(un.release)) == 0 ? "yes" : "no");

    char *hn = slurp("/proc/sys/kernel/hostname");
    printf("sys/kernel/hostname: %s", hn ? hn : "(missing)\n");
    char *os = slurp("/proc/sys/kernel/ostype");
    printf("sys/kernel/ostype: %s", os ? os : "(missing)\n");
    char *rel = slurp("/proc/sys/kernel/osrelease");
    printf("osrelease == uname release: %s\n", rel && strncmp(rel, un.release, strlen(un.release)) == 0 ? "yes" : "no");
    char *pm = slurp("/proc/sys/kernel/pid_max");
    printf("pid_max >= 32768: %s\n", pm && atol(pm) >= 32768 ? "yes" : "no");
    char *b1 = slurp("/proc/sys/kernel/random/boot_id"), *b2 = slurp("/proc/sys/kernel/random/boot_id");
    printf("boot_id is a uuid, stable: %s %s\n", is_uuid(b1) ? "yes" : "no", b1 && b2 && strcmp(b1, b2) == 0 ? "yes" : "no");
    char *u1 = slurp("/proc/sys/kernel/random/uuid"), *u2 = slurp("/proc/sys/kernel/random/uuid");
    printf("uuid is a uuid, fresh each read: %s %s\n", is_uuid(u1) ? "yes" : "no", u1 && u2 && strcmp(u1, u2) != 0 ? "yes" : "no");
    char *clc = slurp("/proc/sys/kernel/cap_last_cap");
    printf("cap_last_cap >= 37: %s\n", clc && atoi(clc) >= 37 ? "yes" : "no");
    char *ng = slurp("/proc/sys/kernel/ngroups_max");
    printf("ngroups_max: %s", ng ? ng : "(missing)\n");
    char *ou = slurp("/proc/sys/kernel/overflowuid");
    printf("overflowuid: %s", ou ? ou : "(missing)\n");
    char *oc = slurp("/proc/sys/vm/overcommit_memory");
    printf("overcommit_memory is 0, 1 or 2: %s\n", oc && (oc[0] == '0' || oc[0] == '1' || oc[0] == '2') ? "yes" : "no");
    char *nr = slurp("/proc/sys/fs/nr_open");
    printf("nr_open >= 1024: %s\n", nr && atol(nr) >= 1024 ? "yes" : "no");
    char *tm = slurp("/proc/sys/kernel/threads-max");
    printf("threads-max > 0: %s\n", tm && atol(tm) > 0 ? "yes" : "no");
    rep_err("write to /proc/sys/kernel/ostype", open("/proc/sys/kernel/ostype", O_WRONLY));
    rep_err("a missing /proc/sys file", open("/proc/sys/kernel/no_such_knob", O_RDONLY));
    done();
}
