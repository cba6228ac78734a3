/* mremap: grow with and without MREMAP_MAYMOVE, shrink, MREMAP_FIXED,
 * shared anonymous and file mappings, errors. */
#include "moat_test.h"
#include <fcntl.h>
#include <sys/mman.h>

#define PG 4096

int main(void) {
    setup();
    char *a = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    memset(a, 'x', 2 * PG);
    char *b = mremap(a, 2 * PG, 8 * PG, MREMAP_MAYMOVE);
    check("grow with MAYMOVE", b != MAP_FAILED);
    check("data kept, new pages zero", b[0] == 'x' && b[2 * PG - 1] == 'x' && b[2 * PG] == 0 && b[8 * PG - 1] == 0);
    char *c = mremap(b, 8 * PG, PG, 0);
    check("shrink in place", c == b && c[0] == 'x');
    probe("access to a page cut off by shrinking", b + 3 * PG, 0);

    // Grow in place into free space.
    char *r = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    munmap(r + PG, 3 * PG);
    r[0] = 'r';
    char *g = mremap(r, PG, 4 * PG, 0);
    check("grow in place into free space", g == r && g[0] == 'r' && g[3 * PG] == 0);

    // Grow blocked by a neighbour without MAYMOVE.
    char *n = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    mmap(n + PG, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    rep_err("grow into a neighbour without MAYMOVE", mremap(n, PG, 2 * PG, 0) == MAP_FAILED ? -1 : 0);
    n[0] = 'n';
    char *moved = mremap(n, PG, 2 * PG, MREMAP_MAYMOVE);
    check("... moves with MAYMOVE", moved != MAP_FAILED && moved != n && moved[0] == 'n');
    probe("old address after the move", n, 0);

    // MREMAP_FIXED into a reserved hole.
    char *hole = mmap(NULL, 4 * PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *src = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    strcpy(src, "fixed");
    char *f = mremap(src, PG, PG, MREMAP_MAYMOVE | MREMAP_FIXED, hole + 2 * PG);
    check("MREMAP_FIXED lands at the target with the data", f == hole + 2 * PG && strcmp(f, "fixed") == 0);
    probe("source after MREMAP_FIXED", src, 0);
    rep_err("MREMAP_FIXED without MAYMOVE", mremap(f, PG, PG, MREMAP_FIXED, hole) == MAP_FAILED ? -1 : 0);

    // Shared anonymous memory moved elsewhere stays shared with a child.
    char *s = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    s[0] = 's';
    char *hole2 = mmap(NULL, 2 * PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *s2 = mremap(s, 2 * PG, 2 * PG, MREMAP_MAYMOVE | MREMAP_FIXED, hole2);
    pid_t p = fork();
    if (p == 0) {
        s2[PG + 1] = 'k';
        s2[0] = 'K';
        _exit(0);
    }
    reap("child", p);
    check("moved shared anon mapping shared with a child", s2 == hole2 && s2[PG + 1] == 'k' && s2[0] == 'K');
    char *s3 = mremap(s2, 2 * PG, PG, 0);
    check("shrunk shared anon mapping keeps its data", s3 == s2 && s3[0] == 'K');

    // A file mapping grown to cover more of the file.
    char path[] = "/tmp/mm_mremap.file";
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    char page[PG];
    memset(page, '1', PG);
    write(fd, page, PG);
    memset(page, '2', PG);
    write(fd, page, PG);
    char *fm = mmap(NULL, PG, PROT_READ, MAP_SHARED, fd, 0);
    char *fm2 = mremap(fm, PG, 2 * PG, MREMAP_MAYMOVE);
    check("grown file mapping shows the next page of the file", fm2 != MAP_FAILED && fm2[0] == '1' && fm2[PG] == '2');
    unlink(path);

    rep_err("unaligned old address", mremap(a + 1, PG, PG, MREMAP_MAYMOVE) == MAP_FAILED ? -1 : 0);
    rep_err("new size 0", mremap(c, PG, 0, MREMAP_MAYMOVE) == MAP_FAILED ? -1 : 0);
    rep_err("bad flags", mremap(c, PG, PG, 0x80) == MAP_FAILED ? -1 : 0);
    char *um = mmap(NULL, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    munmap(um, PG);
    rep_err("unmapped old range", mremap(um, PG, PG, MREMAP_MAYMOVE) == MAP_FAILED ? -1 : 0);
    done();
}
