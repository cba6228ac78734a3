/* fuzz.c - a syscall fuzzer for the inside of a sandbox (tests/tests/fuzz.rs). NEVER run it
 * natively: it calls every syscall number with hostile arguments, as root.
 *
 * usage: fuzz [CALLS_PER_NUMBER [SEED]]
 *
 * For every syscall number 0..=470 and a few beyond (x32 numbers, 512, 1000, 4096, ~0), a
 * fresh child process makes CALLS_PER_NUMBER calls of that number with arguments drawn from a
 * fixed-seed generator: zero, small and huge integers, -1, random bit patterns, valid fds of
 * many kinds and invalid ones, pointers into a writable page (its start, middle and the last
 * bytes before an unmapped guard page), into read-only and PROT_NONE pages, NULL, unmapped,
 * kernel and non-canonical addresses, lengths that run off the end of a mapping. Buffers are
 * refilled with random bytes (sometimes zeros) before each call.
 *
 * Only calls that would legitimately end or stop the process are skipped: exit/exit_group,
 * rt_sigreturn, vfork/fork/clone/clone3 (a child with a garbage stack dies), execve/execveat,
 * pause, and signals the process would send to itself, its parent or everyone (kill/tkill/
 * tgkill/rt_sigqueueinfo/rt_tgsigqueueinfo aimed at 0, -1, a group, our pid or tid, pid 1 or
 * the parent get a pid that does not exist instead; so does prlimit64's pid, which could set
 * the parent's RLIMIT_CPU to 0). rt_sigaction and rt_sigprocmask are skipped too: a
 * handler at a random address or a blocked SIGALRM would turn the watchdog into a crash or a
 * hang. A child that dies of a signal (say, after munmap'ing its own code) or hangs in a
 * blocking call (alarm, then a SIGKILL from the parent after 3 s) only ends its batch.
 *
 * The children's stdio is /dev/null, so random writes to fds 0-2 cannot reach the test's
 * output. The parent prints one summary line and exits 0; anything else means the sandbox
 * misbehaved. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PG 4096

static uint64_t rng_state;
static uint64_t rnd(void) {
    /* splitmix64: fixed seed, same sequence everywhere */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static char *rw, *ro, *none;
static int fds[16], nfds;
static pid_t me, parent;

static long raw(long n, long a, long b, long c, long d, long e, long f) {
    long r;
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    register long r9 __asm__("r9") = f;
    __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9) : "rcx", "r11", "memory");
    return r;
}

static uint64_t arg(void) {
    switch (rnd() % 24) {
    case 0: return 0;
    case 1: return 1;
    case 2: return (uint64_t)-1;
    case 3: return rnd() % 64;
    case 4: return rnd();
    case 5: return rnd() & 0xffffffff;
    case 6: return 0x7fffffff;
    case 7: return 0x80000000;
    case 8: return 0x7fffffffffffffffULL;
    case 9: return (uint64_t)fds[rnd() % nfds];
    case 10: return (uint64_t)fds[rnd() % nfds];
    case 11: return 1000 + rnd() % 100; /* closed fd */
    case 12: return (uint64_t)(rw + (rnd() % PG));
    case 13: return (uint64_t)rw;
    case 14: return (uint64_t)(rw + PG - 1 - rnd() % 16); /* runs into the guard page */
    case 15: return (uint64_t)ro;
    case 16: return (uint64_t)none;
    case 17: return 0x1000 + (rnd() % 0x10000) * PG; /* probably unmapped */
    case 18: return 0xffffffffff600000ULL;             /* vsyscall / kernel */
    case 19: return 0x8000000000000000ULL;             /* non-canonical */
    case 20: return PG;
    case 21: return 1ULL << (rnd() % 64);
    case 22: return (uint64_t)(int64_t)(int32_t)rnd();
    default: return rnd() % 4096;
    }
}

static int skipped(long nr) {
    switch (nr) {
    case SYS_exit: case SYS_exit_group: case SYS_rt_sigreturn: case SYS_vfork: case SYS_fork:
    case SYS_clone: case SYS_clone3: case SYS_execve: case SYS_execveat: case SYS_pause:
    case SYS_rt_sigaction: case SYS_rt_sigprocmask:
        return 1;
    default:
        return 0;
    }
}

/* Signals (and prlimit64) must not reach ourselves, our parent (pid 1, the fuzzer's main
 * process), a process group or everyone: anything but a positive pid of another process
 * becomes a pid that does not exist. */
static uint64_t safe_pid(uint64_t p) {
    long v = (long)(int)p;
    if (v <= 1 || v == me || v == parent || (p >> 32) != 0) return 99999;
    return p;
}

static void run_batch(long nr, int calls) {
    me = getpid();
    int null = open("/dev/null", O_RDWR);
    dup2(null, 0);
    dup2(null, 1);
    dup2(null, 2);
    alarm(1);
    for (int i = 0; i < calls; i++) {
        if (rnd() % 4 == 0)
            memset(rw, 0, PG);
        else
            for (int j = 0; j < PG; j += 8) *(uint64_t *)(rw + j) = rnd();
        uint64_t a[6];
        for (int j = 0; j < 6; j++) a[j] = arg();
        switch (nr) {
        case SYS_kill:
        case SYS_tkill:
        case SYS_rt_sigqueueinfo:
        case SYS_prlimit64:
            a[0] = safe_pid(a[0]);
            break;
        case SYS_tgkill:
        case SYS_rt_tgsigqueueinfo:
            a[0] = safe_pid(a[0]);
            a[1] = safe_pid(a[1]);
            break;
        }
        raw(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
        if (getpid() != me) /* something forked after all (e.g. a syscall we do not know) */
            _exit(0);
    }
    _exit(0);
}

int main(int argc, char **argv) {
    int calls = argc > 1 ? atoi(argv[1]) : 30;
    uint64_t seed = argc > 2 ? strtoull(argv[2], NULL, 0) : 0x6d6f6174; /* "moat" */
    setvbuf(stdout, NULL, _IONBF, 0);
    parent = getpid(); /* the children's parent: this process */
    /* scratch: [rw page][guard], [ro page], [none page] */
    char *m = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    rw = m;
    munmap(m + PG, PG);
    ro = m + 2 * PG;
    none = m + 3 * PG;
    memset(ro, 'r', PG);
    mprotect(ro, PG, PROT_READ);
    mprotect(none, PG, PROT_NONE);
    mkdir("/tmp/fuzz", 0777);
    if (chdir("/tmp/fuzz") != 0) return 2;
    int p[2], s[2];
    pipe(p);
    socketpair(AF_UNIX, SOCK_STREAM, 0, s);
    fds[nfds++] = 0;
    fds[nfds++] = p[0];
    fds[nfds++] = p[1];
    fds[nfds++] = s[0];
    fds[nfds++] = open("/tmp/fuzz/file", O_RDWR | O_CREAT, 0644);
    fds[nfds++] = open("/tmp/fuzz", O_RDONLY | O_DIRECTORY);
    fds[nfds++] = open("/dev/null", O_RDWR);
    fds[nfds++] = eventfd(0, 0);
    fds[nfds++] = epoll_create1(0);
    fds[nfds++] = timerfd_create(CLOCK_MONOTONIC, 0);
    fds[nfds++] = socket(AF_INET, SOCK_DGRAM, 0);
    fds[nfds++] = open("/proc/self/status", O_RDONLY);
    fds[nfds++] = -1;
    fds[nfds++] = AT_FDCWD;

    static const long extra[] = {471, 480, 500, 511, 512, 547, 1000, 4096, 0x40000000 | 0, 0x40000000 | 39,
                                 0x40000000 | 512, -1, 0x7fffffff};
    long numbers[600];
    int n = 0;
    for (long nr = 0; nr <= 470; nr++) numbers[n++] = nr;
    for (size_t i = 0; i < sizeof extra / sizeof extra[0]; i++) numbers[n++] = extra[i];

    int batches = 0, signalled = 0, killed = 0, skips = 0;
    long total = 0;
    for (int i = 0; i < n; i++) {
        long nr = numbers[i];
        if (skipped(nr)) {
            skips++;
            continue;
        }
        rng_state = seed ^ ((uint64_t)nr * 0x100000001b3ULL);
        pid_t c = fork();
        if (c < 0) {
            printf("fuzz: fork failed at %ld: %s\n", nr, strerror(errno));
            return 3;
        }
        if (c == 0) run_batch(nr, calls);
        batches++;
        total += calls;
        int st = 0, waited = 0;
        while (waitpid(c, &st, WNOHANG) == 0) {
            if (waited >= 3000) {
                kill(c, SIGKILL);
                waitpid(c, &st, 0);
                killed++;
                break;
            }
            struct timespec t = {0, 10 * 1000 * 1000};
            nanosleep(&t, NULL);
            waited += 10;
        }
        if (WIFSIGNALED(st)) signalled++;
    }
    /* the scratch directory may hold anything now; the sandbox still answers */
    struct stat sb;
    int alive = stat("/tmp/fuzz", &sb) == 0 || errno == ENOENT;
    printf("fuzz: %d numbers skipped, %d batches, %ld calls, %d children ended by a signal, %d killed by the watchdog\n",
           skips, batches, total, signalled, killed);
    printf("fuzz: done, sandbox %s\n", alive ? "alive" : "confused");
    return alive ? 0 : 4;
}
