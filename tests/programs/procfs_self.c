/* /proc/self as programs read it: exe, cwd, root, fd and fdinfo (pos, flags), status (Name,
 * State, Tgid, PPid, Uid/Gid, Threads, SigBlk/SigIgn/SigCgt), stat (pid, comm, state, ppid,
 * pgrp, session, num_threads), statm, cmdline and environ (NUL-separated, exact), mounts and
 * mountinfo, limits, cgroup, comm, task/, the self and thread-self links, another process's
 * directory, and what happens to /proc/PID once the process is gone. */
#include "moat_test.h"
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/syscall.h>

static char *slurp(const char *p, size_t *len) {
    static char buf[65536];
    int fd = open(p, O_RDONLY);
    if (fd < 0) {
        *len = 0;
        return NULL;
    }
    size_t n = 0;
    ssize_t k;
    while ((k = read(fd, buf + n, sizeof buf - 1 - n)) > 0) n += k;
    close(fd);
    buf[n] = 0;
    *len = n;
    return buf;
}
static const char *field(const char *text, const char *key, char *out, size_t n) {
    const char *p = text;
    size_t kl = strlen(key);
    while (p && *p) {
        if (strncmp(p, key, kl) == 0 && p[kl] == ':') {
            p += kl + 1;
            while (*p == ' ' || *p == '\t') p++;
            size_t i = 0;
            while (p[i] && p[i] != '\n' && i < n - 1) {
                out[i] = p[i] == '\t' ? ' ' : p[i];
                i++;
            }
            out[i] = 0;
            return out;
        }
        p = strchr(p, '\n');
        if (p) p++;
    }
    snprintf(out, n, "(missing)");
    return out;
}
static void on_usr1(int s) { (void)s; }
static void *idle(void *a) {
    (void)a;
    sleep(100);
    return NULL;
}

int main(int argc, char **argv, char **envp) {
    (void)argc;
    setup();
    char l[256];
    memset(l, 0, sizeof l);
    readlink("/proc/self/exe", l, sizeof l - 1);
    printf("exe: %s\n", l);
    chdir("/tmp");
    memset(l, 0, sizeof l);
    readlink("/proc/self/cwd", l, sizeof l - 1);
    printf("cwd: %s\n", l);
    memset(l, 0, sizeof l);
    readlink("/proc/self/root", l, sizeof l - 1);
    printf("root: %s\n", l);
    char selfl[32] = {0};
    readlink("/proc/self", selfl, sizeof selfl - 1);
    printf("/proc/self -> our pid: %s\n", atoi(selfl) == getpid() ? "yes" : "no");
    memset(l, 0, sizeof l);
    readlink("/proc/thread-self", l, sizeof l - 1);
    char want[64];
    snprintf(want, sizeof want, "%d/task/%ld", getpid(), (long)syscall(SYS_gettid));
    printf("/proc/thread-self -> pid/task/tid: %s\n", strcmp(l, want) == 0 ? "yes" : "no");

    int fd = open("/etc/passwd", O_RDONLY | O_CLOEXEC);
    lseek(fd, 7, SEEK_SET);
    char p[64];
    snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
    memset(l, 0, sizeof l);
    readlink(p, l, sizeof l - 1);
    printf("fd link: %s\n", l);
    snprintf(p, sizeof p, "/proc/self/fdinfo/%d", fd);
    size_t n;
    char *t = slurp(p, &n);
    char v[128];
    printf("fdinfo pos: %s\n", field(t ? t : "", "pos", v, sizeof v));
    unsigned long fl = strtoul(field(t ? t : "", "flags", v, sizeof v), NULL, 8);
    printf("fdinfo flags has O_CLOEXEC: %s, access RDONLY: %s\n", fl & O_CLOEXEC ? "yes" : "no", (fl & O_ACCMODE) == 0 ? "yes" : "no");
    DIR *d = opendir("/proc/self/fd");
    int nfd = 0, has_fd = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') {
            nfd++;
            if (atoi(e->d_name) == fd) has_fd = 1;
        }
    closedir(d);
    printf("/proc/self/fd lists 0,1,2, the file and the dir fd: %d entries, has the file: %s\n", nfd, has_fd ? "yes" : "no");

    pthread_t th;
    pthread_create(&th, NULL, idle, NULL);
    sigset_t m;
    sigemptyset(&m);
    sigaddset(&m, SIGUSR2);
    sigprocmask(SIG_BLOCK, &m, NULL);
    signal(SIGHUP, SIG_IGN);
    signal(SIGUSR1, on_usr1);
    t = slurp("/proc/self/status", &n);
    printf("status Name: %s\n", field(t, "Name", v, sizeof v));
    printf("status State: %s\n", field(t, "State", v, sizeof v));
    printf("status Tgid == pid: %s\n", atoi(field(t, "Tgid", v, sizeof v)) == getpid() ? "yes" : "no");
    printf("status Pid == pid: %s\n", atoi(field(t, "Pid", v, sizeof v)) == getpid() ? "yes" : "no");
    printf("status PPid: %s\n", field(t, "PPid", v, sizeof v));
    printf("status Uid: %s\n", field(t, "Uid", v, sizeof v));
    printf("status Gid: %s\n", field(t, "Gid", v, sizeof v));
    printf("status Threads: %s\n", field(t, "Threads", v, sizeof v));
    printf("status SigBlk: %s\n", field(t, "SigBlk", v, sizeof v));
    printf("status SigIgn: %s\n", field(t, "SigIgn", v, sizeof v));
    printf("status SigCgt has USR1: %s\n", strtoull(field(t, "SigCgt", v, sizeof v), NULL, 16) & (1ULL << (SIGUSR1 - 1)) ? "yes" : "no");
    printf("status VmRSS present: %s\n", strcmp(field(t, "VmRSS", v, sizeof v), "(missing)") ? "yes" : "no");
    printf("status Cpus_allowed_list present: %s\n", strcmp(field(t, "Cpus_allowed_list", v, sizeof v), "(missing)") ? "yes" : "no");
    printf("status Umask: %s\n", field(t, "Umask", v, sizeof v));

    t = slurp("/proc/self/stat", &n);
    char *rp = strrchr(t, ')');
    char comm[64] = {0};
    char *lp = strchr(t, '(');
    if (lp && rp) snprintf(comm, sizeof comm, "%.*s", (int)(rp - lp - 1), lp + 1);
    char state;
    int ppid, pgrp, sess, tty, tpgid;
    unsigned flags;
    unsigned long minflt, cminflt, majflt, cmajflt, ut, st, cut, cst, prio, nice, nthreads;
    sscanf(rp + 2, "%c %d %d %d %d %d %u %lu %lu %lu %lu %lu %lu %lu %lu %lu %lu %lu", &state, &ppid, &pgrp, &sess, &tty, &tpgid,
           &flags, &minflt, &cminflt, &majflt, &cmajflt, &ut, &st, &cut, &cst, &prio, &nice, &nthreads);
    printf("stat: pid ok=%s comm=%s state=%c ppid=%d pgrp==pid %s session==pid %s tty=%d threads=%lu\n",
           atoi(t) == getpid() ? "yes" : "no", comm, state, ppid, pgrp == getpid() ? "yes" : "no", sess == getpid() ? "yes" : "no",
           tty, nthreads);
    int fields = 1;
    for (char *q = rp + 1; *q; q++)
        if (*q == ' ') fields++;
    printf("stat has >= 52 fields: %s\n", fields + 1 >= 52 ? "yes" : "no");
    t = slurp("/proc/self/statm", &n);
    unsigned long sm[7];
    printf("statm: %d numbers, size >= resident: %s\n",
           sscanf(t, "%lu %lu %lu %lu %lu %lu %lu", &sm[0], &sm[1], &sm[2], &sm[3], &sm[4], &sm[5], &sm[6]), sm[0] >= sm[1] ? "yes" : "no");

    t = slurp("/proc/self/cmdline", &n);
    size_t want_len = 0;
    for (int i = 0; argv[i]; i++) want_len += strlen(argv[i]) + 1;
    printf("cmdline: %zu bytes, matches argv: %s\n", n, n == want_len && memcmp(t, argv[0], strlen(argv[0]) + 1) == 0 ? "yes" : "no");
    t = slurp("/proc/self/environ", &n);
    size_t env_len = 0;
    int env_ok = 1;
    char *q = t;
    for (int i = 0; envp[i]; i++) {
        env_len += strlen(envp[i]) + 1;
        if (q && strcmp(q, envp[i]) != 0) env_ok = 0;
        if (q) q += strlen(q) + 1;
    }
    printf("environ matches envp: %s\n", n == env_len && env_ok ? "yes" : "no");
    t = slurp("/proc/self/comm", &n);
    printf("comm: %s", t);

    t = slurp("/proc/self/mounts", &n);
    printf("mounts has proc on /proc: %s\n", strstr(t, " /proc proc ") ? "yes" : "no");
    printf("mounts has tmpfs on /dev/shm: %s\n", strstr(t, " /dev/shm tmpfs ") ? "yes" : "no");
    t = slurp("/proc/self/mountinfo", &n);
    int root_line = 0;
    for (char *line = t; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        char mp[256], rt[256];
        if (sscanf(line, "%*d %*d %*s %255s %255s", rt, mp) == 2 && strcmp(mp, "/") == 0) root_line = 1;
    }
    printf("mountinfo has the root mount: %s\n", root_line ? "yes" : "no");
    t = slurp("/proc/self/limits", &n);
    char *mo = strstr(t, "Max open files");
    if (mo) {
        char *e2 = strchr(mo, '\n');
        if (e2) *e2 = 0;
        char *sp;
        while ((sp = strstr(mo, "  "))) memmove(sp, sp + 1, strlen(sp));
    }
    printf("limits: %s\n", mo ? mo : "(missing)");
    t = slurp("/proc/self/cgroup", &n);
    printf("cgroup: has a '0::' line or v1 lines: %s\n", t && (strstr(t, "0::") || strchr(t, ':')) ? "yes" : "no");

    d = opendir("/proc/self/task");
    int ntask = 0;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') ntask++;
    closedir(d);
    printf("task entries: %d\n", ntask);

    pid_t c = fork();
    if (c == 0) {
        for (;;) pause();
    }
    snprintf(p, sizeof p, "/proc/%d/stat", c);
    sleep_ms(30);
    t = slurp(p, &n);
    rp = t ? strrchr(t, ')') : NULL;
    printf("child's stat: state %c, ppid is us: %s\n", rp ? rp[2] : '?', rp && atoi(rp + 4) == getpid() ? "yes" : "no");
    snprintf(p, sizeof p, "/proc/%d/cmdline", c);
    t = slurp(p, &n);
    printf("child's cmdline readable: %s\n", n > 0 ? "yes" : "no");
    kill(c, SIGKILL);
    waitpid(c, NULL, 0);
    snprintf(p, sizeof p, "/proc/%d/stat", c);
    rep_err("a reaped child's /proc entry", open(p, O_RDONLY));
    snprintf(p, sizeof p, "/proc/%d", c);
    rep_err("its directory", access(p, F_OK));
    rep_err("/proc/999999", access("/proc/999999", F_OK));
    rep_err("write to /proc/self/stat", open("/proc/self/stat", O_WRONLY));
    done();
}
