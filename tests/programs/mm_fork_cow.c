/* Copy-on-write across fork: private anonymous, heap, stack, bss and private file pages are
 * private to each side after fork, shared anonymous and shared file pages stay shared;
 * writes by the kernel (read(2) into a buffer, pipe data) and by the program itself, in
 * parent, child and grandchild; madvise(MADV_DONTNEED) and mremap after fork; vfork. */
#include "moat_test.h"
#include <fcntl.h>
#include <sys/mman.h>

#define PG 4096

static char bss_buf[3 * PG];
static char data_buf[64] = "data-initial";

static int wait_child(pid_t p) {
    int st = 0;
    waitpid(p, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int main(void) {
    setup();
    char *anon = mmap(NULL, 64 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *shared = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    char *heap = malloc(200000);
    char stack_buf[256] = "stack-initial";
    memset(anon, 'p', 64 * PG);
    strcpy(heap, "heap-initial");
    strcpy(bss_buf + PG, "bss-initial");
    shared[0] = 's';

    int fd = open("/tmp/mm_fork_cow.file", O_RDWR | O_CREAT | O_TRUNC, 0600);
    char filebuf[2 * PG];
    memset(filebuf, 'f', sizeof filebuf);
    write(fd, filebuf, sizeof filebuf);
    char *fpriv = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    char *fshared = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    fpriv[0] = 'P'; /* private copy before the fork */

    int pfd[2];
    pipe(pfd);
    pid_t c = fork();
    if (c == 0) {
        anon[0] = 'c';
        anon[33 * PG] = 'c';
        strcpy(heap, "heap-child");
        strcpy(stack_buf, "stack-child");
        strcpy(bss_buf + PG, "bss-child");
        strcpy(data_buf, "data-child");
        fpriv[PG] = 'C';
        shared[0] = 'S';
        fshared[1] = 'X';
        /* The kernel writes into a copy-on-write page: read(2) from the pipe. */
        char *dst = anon + 40 * PG + 100;
        ssize_t n = read(pfd[0], dst, 5);
        printf("child read into cow page: %zd %.5s\n", n, dst);
        printf("child sees own: %c %c %s %s %s %s %c\n", anon[0], anon[33 * PG], heap, stack_buf,
               bss_buf + PG, data_buf, fpriv[PG]);
        printf("child sees untouched: %c %c\n", anon[1], anon[63 * PG]);
        /* A grandchild shares the child's copies until it writes. */
        pid_t g = fork();
        if (g == 0) {
            printf("grandchild sees: %c %s %.5s\n", anon[0], heap, dst);
            anon[0] = 'g';
            strcpy(heap, "heap-grandchild");
            _exit(anon[0] == 'g' ? 0 : 1);
        }
        printf("grandchild exit: %d\n", wait_child(g));
        printf("child after grandchild: %c %s\n", anon[0], heap);
        /* DONTNEED on pages still shared with the parent: zeros here only. */
        madvise(anon + 50 * PG, 2 * PG, MADV_DONTNEED);
        printf("child after DONTNEED: %d %c\n", anon[50 * PG], anon[52 * PG]);
        /* mremap moves copy-on-write pages along. */
        char *m = mremap(anon + 60 * PG, 4 * PG, 8 * PG, MREMAP_MAYMOVE);
        printf("child mremap: %s %c %d\n", m == MAP_FAILED ? "failed" : "ok", m[0], m[5 * PG]);
        m[0] = 'm';
        _exit(0);
    }
    write(pfd[1], "piped", 5);
    printf("child exit: %d\n", wait_child(c));
    printf("parent keeps: %c %c %s %s %s %s %c %c\n", anon[0], anon[33 * PG], heap, stack_buf,
           bss_buf + PG, data_buf, fpriv[0], fpriv[PG]);
    printf("parent cow page not written by child's read: %c\n", anon[40 * PG + 100]);
    printf("parent keeps DONTNEED'd pages: %c %c\n", anon[50 * PG], anon[51 * PG]);
    printf("parent keeps remapped range: %c\n", anon[60 * PG]);
    printf("parent sees shared: %c %c\n", shared[0], fshared[1]);
    char back[2];
    pread(fd, back, 2, 0);
    printf("file has shared write: %c%c\n", back[0], back[1]);

    /* The parent writes after fork while the child only reads. */
    pid_t r = fork();
    if (r == 0) {
        sleep_ms(50);
        printf("reader child sees old value: %c\n", anon[2]);
        _exit(0);
    }
    anon[2] = 'w';
    printf("reader exit: %d\n", wait_child(r));

    /* vfork: the child shares the parent's memory. */
    volatile char *vp = anon + 3;
    pid_t v = vfork();
    if (v == 0) {
        *vp = 'v';
        _exit(0);
    }
    printf("vfork child exit: %d, wrote: %c\n", wait_child(v), *vp);

    /* Many forks in a row do not leak: each child touches memory and exits. */
    for (int i = 0; i < 50; i++) {
        pid_t k = fork();
        if (k == 0) {
            memset(anon, 'k', 16 * PG);
            _exit(0);
        }
        wait_child(k);
    }
    printf("after 50 forks: %c %c\n", anon[0], anon[15 * PG]);
    unlink("/tmp/mm_fork_cow.file");
    printf("done: ok\n");
    return 0;
}
