/* mprotect with a SIGSEGV handler (si_code, exact si_addr), PROT_NONE, executing from a
 * non-executable page, EFAULT from syscalls given protected buffers, madvise (DONTNEED on
 * private, shared and file mappings; hints; errors). */
#include "moat_test.h"
#include <fcntl.h>
#include <sys/mman.h>

#define PG 4096

static sigjmp_buf jb;
static volatile int fault_code;
static void *volatile fault_addr;
static void on_segv(int s, siginfo_t *si, void *uc) {
    (void)s; (void)uc;
    fault_code = si->si_code;
    fault_addr = si->si_addr;
    siglongjmp(jb, 1);
}

int main(void) {
    setup();
    char *p = mmap(NULL, 3 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    strcpy(p, "keep me");
    rep("mprotect PROT_READ", mprotect(p, PG, PROT_READ));
    probe("write to read-only page", p + 123, 1);
    probe("read of read-only page", p + 123, 0);
    rep("mprotect PROT_NONE", mprotect(p, PG, PROT_NONE));
    probe("read of PROT_NONE page", p + 5, 0);
    rep("mprotect back to RW", mprotect(p, PG, PROT_READ | PROT_WRITE));
    printf("data kept: %s\n", p);

    // Partial mprotect in the middle of a mapping.
    mprotect(p + PG, PG, PROT_READ);
    probe("page 0 writable", p + 1, 1);
    probe("page 1 read-only", p + PG + 1, 1);
    probe("page 2 writable", p + 2 * PG + 1, 1);

    munmap(p + 2 * PG, PG);
    probe("unmapped page", p + 2 * PG + 64, 0);
    probe("NULL", (volatile char *)0, 0);

    rep_err("mprotect unaligned", mprotect(p + 1, PG, PROT_READ));
    rep_err("mprotect of an unmapped range", mprotect(p + 2 * PG, PG, PROT_READ));
    rep_err("mprotect bad prot", mprotect(p, PG, 0x100));
    rep("mprotect W+X", mprotect(p, PG, PROT_READ | PROT_WRITE | PROT_EXEC));
    mprotect(p, PG, PROT_READ | PROT_WRITE);

    // Execute from a page without PROT_EXEC, then with it.
    unsigned char *code = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    code[0] = 0xb8; /* mov $42, %eax; ret */
    code[1] = 42; code[2] = 0; code[3] = 0; code[4] = 0;
    code[5] = 0xc3;
    struct sigaction sa = {0};
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGSEGV, &sa, NULL);
    int (*fn)(void) = (int (*)(void))code;
    if (sigsetjmp(jb, 1) == 0) {
        fn();
        printf("exec from non-exec page: ran\n");
    } else {
        printf("exec from non-exec page: SIGSEGV %s addr=%s\n", sicode_name(SIGSEGV, fault_code),
               fault_addr == code ? "exact" : "other");
    }
    mprotect(code, PG, PROT_READ | PROT_EXEC);
    printf("exec after mprotect PROT_EXEC: %d\n", fn());
    signal(SIGSEGV, SIG_DFL);

    // Syscalls given protected memory fail with EFAULT instead of faulting.
    int fd = open("/dev/zero", O_RDONLY);
    mprotect(p, PG, PROT_READ);
    rep_err("read into a read-only buffer", read(fd, p, 16));
    mprotect(p, PG, PROT_NONE);
    int pp[2];
    if (pipe(pp) < 0) return 1;
    rep_err("write to a pipe from a PROT_NONE buffer", write(pp[1], p, 16));
    mprotect(p, PG, PROT_READ | PROT_WRITE);

    // madvise.
    char *an = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    memset(an, 'a', 2 * PG);
    rep("MADV_DONTNEED private anon", madvise(an, PG, MADV_DONTNEED));
    printf("after DONTNEED: page0=%d page1=%c\n", an[0], an[PG]);
    char *sh = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    memset(sh, 's', PG);
    madvise(sh, PG, MADV_DONTNEED);
    printf("shared anon after DONTNEED: %c\n", sh[0]);
    char path[] = "/tmp/mm_protect.file";
    int ff = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    char pg[PG];
    memset(pg, 'F', PG);
    write(ff, pg, PG);
    char *fp = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, ff, 0);
    fp[0] = 'w';
    madvise(fp, PG, MADV_DONTNEED);
    printf("private file page after DONTNEED: %c\n", fp[0]);
    unlink(path);
    rep("MADV_FREE", madvise(an, PG, MADV_FREE));
    rep("MADV_WILLNEED", madvise(an, PG, MADV_WILLNEED));
    rep("MADV_SEQUENTIAL", madvise(an, PG, MADV_SEQUENTIAL));
    rep("MADV_RANDOM", madvise(an, PG, MADV_RANDOM));
    rep("MADV_NORMAL", madvise(an, PG, MADV_NORMAL));
    rep("MADV_DONTFORK", madvise(an, PG, MADV_DONTFORK));
    rep("MADV_DOFORK", madvise(an, PG, MADV_DOFORK));
    rep_err("madvise bad advice", madvise(an, PG, 12345));
    rep_err("madvise unaligned", madvise(an + 1, PG, MADV_NORMAL));
    munmap(an, 2 * PG);
    rep_err("madvise unmapped", madvise(an, PG, MADV_NORMAL));
    done();
}
