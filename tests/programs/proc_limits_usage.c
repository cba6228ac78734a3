/* Resource limits and accounting: getrlimit/setrlimit/prlimit64 (the spec's RLIMIT_NOFILE,
 * lowering then EMFILE, raising soft above hard, RLIMIT_FSIZE -> SIGXFSZ/EFBIG, limits
 * inherited by children and shown in /proc/self/limits), getrusage for self, children and
 * threads, wait4's rusage, times(), clock() and the CPU-time clocks. */
#include "moat_test.h"
#include <fcntl.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/times.h>

static void burn(long ms) {
    long t0 = now_ms(CLOCK_PROCESS_CPUTIME_ID);
    volatile long x = 0;
    while (now_ms(CLOCK_PROCESS_CPUTIME_ID) - t0 < ms) x++;
}
static void *burn_thread(void *a) {
    (void)a;
    long t0 = now_ms(CLOCK_THREAD_CPUTIME_ID);
    volatile long x = 0;
    while (now_ms(CLOCK_THREAD_CPUTIME_ID) - t0 < 100) x++;
    return NULL;
}

int main(void) {
    setup();
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    printf("RLIMIT_NOFILE: %lu %lu\n", (unsigned long)rl.rlim_cur, (unsigned long)rl.rlim_max);
    FILE *f = fopen("/proc/self/limits", "r");
    char line[256];
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "Max open files", 14) == 0 || strncmp(line, "Limit", 5) == 0) printf("limits: %s", line);
    if (f) fclose(f);

    struct rlimit low = {8, rl.rlim_max};
    rep("lower soft NOFILE to 8", setrlimit(RLIMIT_NOFILE, &low));
    int opened = 0, last = 0;
    for (int i = 0; i < 20; i++) {
        int fd = open("/dev/null", O_RDONLY);
        if (fd < 0) {
            last = errno;
            break;
        }
        opened++;
    }
    printf("opened until %s: %d more fds\n", errname(last), opened);
    for (int fd = 3; fd < 8; fd++) close(fd);
    rep_err("dup2 to an fd above the limit", dup2(0, 20));
    rep_err("F_DUPFD above the limit", fcntl(0, F_DUPFD, 9));
    struct rlimit bad = {rl.rlim_max + 1, rl.rlim_max};
    rep_err("soft above hard", setrlimit(RLIMIT_NOFILE, &bad));
    setrlimit(RLIMIT_NOFILE, &rl);

    struct rlimit old, nw = {1 << 20, RLIM_INFINITY};
    rep("prlimit64 set RLIMIT_FSIZE, get old", prlimit(0, RLIMIT_FSIZE, &nw, &old));
    printf("old FSIZE infinite: %s\n", old.rlim_cur == RLIM_INFINITY ? "yes" : "no");
    prlimit(0, RLIMIT_FSIZE, NULL, &old);
    printf("FSIZE now: %lu\n", (unsigned long)old.rlim_cur);
    pid_t p = fork();
    if (p == 0) {
        struct rlimit r2;
        getrlimit(RLIMIT_FSIZE, &r2);
        printf("  child inherits FSIZE: %lu\n", (unsigned long)r2.rlim_cur);
        struct rlimit tiny = {10, RLIM_INFINITY};
        setrlimit(RLIMIT_FSIZE, &tiny);
        signal(SIGXFSZ, SIG_IGN);
        int fd = open("/tmp/proc_limits.f", O_WRONLY | O_CREAT | O_TRUNC, 0644);
        printf("  write 20 bytes with FSIZE 10: %zd\n", write(fd, "01234567890123456789", 20));
        errno = 0;
        printf("  next write: %zd %s\n", write(fd, "x", 1), errname(errno));
        signal(SIGXFSZ, SIG_DFL);
        write(fd, "x", 1);
        _exit(0);
    }
    reap("FSIZE child (SIGXFSZ by default)", p);
    unlink("/tmp/proc_limits.f");
    rep_err("prlimit64 of a missing pid", prlimit(999999, RLIMIT_NOFILE, NULL, &old));
    rep_err("getrlimit bad resource", getrlimit(99, &old));
    getrlimit(RLIMIT_STACK, &old);
    check("RLIMIT_STACK soft >= 1 MiB", old.rlim_cur >= (1 << 20));
    getrlimit(RLIMIT_CORE, &old);
    printf("RLIMIT_CORE: %lu\n", (unsigned long)old.rlim_cur);

    // Accounting.
    burn(150);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    long self_ms = ru.ru_utime.tv_sec * 1000 + ru.ru_utime.tv_usec / 1000 + ru.ru_stime.tv_sec * 1000 + ru.ru_stime.tv_usec / 1000;
    check("RUSAGE_SELF >= 100ms after burning 150ms", self_ms >= 100);
    check("ru_maxrss > 0", ru.ru_maxrss > 0);
    getrusage(RUSAGE_CHILDREN, &ru);
    long before = ru.ru_utime.tv_sec * 1000 + ru.ru_utime.tv_usec / 1000 + ru.ru_stime.tv_sec * 1000 + ru.ru_stime.tv_usec / 1000;
    p = fork();
    if (p == 0) {
        burn(200);
        _exit(0);
    }
    getrusage(RUSAGE_CHILDREN, &ru);
    long during = ru.ru_utime.tv_sec * 1000 + ru.ru_utime.tv_usec / 1000 + ru.ru_stime.tv_sec * 1000 + ru.ru_stime.tv_usec / 1000;
    waitpid(p, NULL, 0);
    getrusage(RUSAGE_CHILDREN, &ru);
    long after = ru.ru_utime.tv_sec * 1000 + ru.ru_utime.tv_usec / 1000 + ru.ru_stime.tv_sec * 1000 + ru.ru_stime.tv_usec / 1000;
    check("RUSAGE_CHILDREN unchanged until the child is reaped", during == before);
    check("RUSAGE_CHILDREN grew by >= 150ms after reaping", after - before >= 150);
    p = fork();
    if (p == 0) {
        burn(100);
        _exit(0);
    }
    struct rusage wr;
    wait4(p, NULL, 0, &wr);
    long wms = wr.ru_utime.tv_sec * 1000 + wr.ru_utime.tv_usec / 1000 + wr.ru_stime.tv_sec * 1000 + wr.ru_stime.tv_usec / 1000;
    check("wait4's rusage has the child's 100ms", wms >= 80 && wms < 1000);
    pthread_t t;
    pthread_create(&t, NULL, burn_thread, NULL);
    pthread_join(t, NULL);
    getrusage(RUSAGE_THREAD, &ru);
    long th = ru.ru_utime.tv_sec * 1000 + ru.ru_utime.tv_usec / 1000 + ru.ru_stime.tv_sec * 1000 + ru.ru_stime.tv_usec / 1000;
    getrusage(RUSAGE_SELF, &ru);
    long all = ru.ru_utime.tv_sec * 1000 + ru.ru_utime.tv_usec / 1000 + ru.ru_stime.tv_sec * 1000 + ru.ru_stime.tv_usec / 1000;
    check("RUSAGE_SELF includes the finished thread's 100ms", all - th >= 80);
    rep_err("getrusage bad who", getrusage(5, &ru));

    struct tms tm;
    clock_t c0 = times(&tm);
    check("times() returns a positive tick count", c0 > 0);
    check("tms_cutime+tms_cstime >= 15 ticks", tm.tms_cutime + tm.tms_cstime >= 15);
    check("tms_utime+tms_stime >= 20 ticks", tm.tms_utime + tm.tms_stime >= 20);
    check("clock() >= 0.2s", clock() >= CLOCKS_PER_SEC / 5);
    struct timespec ts;
    clockid_t cid;
    clock_getcpuclockid(getpid(), &cid);
    rep("clock_gettime on clock_getcpuclockid(self)", clock_gettime(cid, &ts));
    check("... >= 0.2s", ts.tv_sec * 1000 + ts.tv_nsec / 1000000 >= 200);
    done();
}
