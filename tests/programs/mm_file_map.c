/* File-backed mmap: MAP_PRIVATE copy-on-write, MAP_SHARED coherent with read/write and across
 * fork, msync, offsets, permissions, unlinked files, shared anonymous and
 * /dev/zero mappings, MAP_FIXED(_NOREPLACE). */
#include "moat_test.h"
#include <fcntl.h>
#include <sys/mman.h>

#define PG 4096
static char dir[64], path[128];

int main(void) {
    setup();
    scratch("mm_file_map", dir, sizeof dir);
    snprintf(path, sizeof path, "%s/f", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    char buf[3 * PG];
    for (int i = 0; i < 3 * PG; i++) buf[i] = 'a' + (i / PG);
    if (write(fd, buf, sizeof buf) != sizeof buf) printf("write failed\n");

    // MAP_PRIVATE: reads the file, writes stay private.
    char *pv = mmap(NULL, 3 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    check("private map reads the file", pv != MAP_FAILED && pv[0] == 'a' && pv[PG] == 'b' && pv[2 * PG + 5] == 'c');
    pv[10] = 'X';
    char c = 0;
    pread(fd, &c, 1, 10);
    printf("private write reaches the file: %s\n", c == 'X' ? "yes" : "no");
    munmap(pv, 3 * PG);

    // MAP_SHARED: coherent with read(2)/write(2) both ways.
    char *sh = mmap(NULL, 3 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    sh[20] = 'S';
    pread(fd, &c, 1, 20);
    printf("shared write seen by pread before msync: %s\n", c == 'S' ? "yes" : "no");
    rep("msync MS_SYNC", msync(sh, 3 * PG, MS_SYNC));
    pread(fd, &c, 1, 20);
    printf("shared write seen by pread after msync: %s\n", c == 'S' ? "yes" : "no");
    pwrite(fd, "W", 1, PG + 1);
    printf("pwrite seen through the shared map: %s\n", sh[PG + 1] == 'W' ? "yes" : "no");
    rep("msync MS_ASYNC", msync(sh, PG, MS_ASYNC));
    rep("msync MS_INVALIDATE", msync(sh, PG, MS_INVALIDATE));
    rep_err("msync unaligned", msync(sh + 1, PG, MS_SYNC));
    rep_err("msync bad flags", msync(sh, PG, MS_SYNC | MS_ASYNC));

    // Across fork: the child writes through the inherited map and through a map of its own.
    pid_t p = fork();
    if (p == 0) {
        sh[30] = 'C';
        int fd2 = open(path, O_RDWR);
        char *own = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd2, 2 * PG);
        own[7] = 'O';
        msync(own, PG, MS_SYNC);
        _exit(0);
    }
    reap("child", p);
    printf("child's write via inherited map: %s\n", sh[30] == 'C' ? "yes" : "no");
    printf("child's write via its own map: %s\n", sh[2 * PG + 7] == 'O' ? "yes" : "no");
    pread(fd, &c, 1, 2 * PG + 7);
    printf("... and in the file: %s\n", c == 'O' ? "yes" : "no");

    // A private map made before the fork is copied, not shared.
    char *pv2 = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    p = fork();
    if (p == 0) {
        pv2[0] = 'Q';
        _exit(pv2[0] == 'Q' ? 0 : 1);
    }
    reap("private child", p);
    printf("child's private write seen by parent: %s\n", pv2[0] == 'Q' ? "yes" : "no");
    munmap(pv2, PG);

    // Offsets.
    char *off = mmap(NULL, PG, PROT_READ, MAP_SHARED, fd, PG);
    check("map at offset 1 page", off != MAP_FAILED && off[0] == 'b' && off[1] == 'W');
    rep_err("unaligned offset", (long)mmap(NULL, PG, PROT_READ, MAP_SHARED, fd, 100) == -1 ? -1 : 0);
    rep_err("length 0", (long)mmap(NULL, 0, PROT_READ, MAP_SHARED, fd, 0) == -1 ? -1 : 0);
    munmap(off, PG);

    munmap(sh, 3 * PG);

    // Permissions.
    int ro = open(path, O_RDONLY);
    rep_err("MAP_SHARED+PROT_WRITE on O_RDONLY fd", (long)mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, ro, 0) == -1 ? -1 : 0);
    void *ok = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, ro, 0);
    rep("MAP_PRIVATE+PROT_WRITE on O_RDONLY fd", ok == MAP_FAILED ? -1 : 0);
    int wo = open(path, O_WRONLY);
    rep_err("map of O_WRONLY fd", (long)mmap(NULL, PG, PROT_READ, MAP_SHARED, wo, 0) == -1 ? -1 : 0);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    rep_err("map of a directory", (long)mmap(NULL, PG, PROT_READ, MAP_PRIVATE, dfd, 0) == -1 ? -1 : 0);
    int pp[2];
    pipe(pp);
    rep_err("map of a pipe", (long)mmap(NULL, PG, PROT_READ, MAP_PRIVATE, pp[0], 0) == -1 ? -1 : 0);
    rep_err("map of a bad fd", (long)mmap(NULL, PG, PROT_READ, MAP_PRIVATE, 999, 0) == -1 ? -1 : 0);

    // The mapping outlives the fd and the name.
    char *keep = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    int fd3 = open(path, O_RDONLY);
    close(fd);
    unlink(path);
    keep[100] = 'U';
    pread(fd3, &c, 1, 100);
    printf("write to map of an unlinked, closed file seen by another fd: %s\n", c == 'U' ? "yes" : "no");

    // A mapping alone keeps the file's pages: no fd, no name left.
    int lone = open("/tmp/mm_file_map.d/lone", O_RDWR | O_CREAT | O_TRUNC, 0644);
    write(lone, "still here", 10);
    char *lm = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, lone, 0);
    char *lp = mmap(NULL, PG, PROT_READ, MAP_PRIVATE, lone, 0);
    close(lone);
    unlink("/tmp/mm_file_map.d/lone");
    char *other = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, open("/tmp/mm_file_map.d/other", O_RDWR | O_CREAT, 0644), 0);
    ftruncate(open("/tmp/mm_file_map.d/other", O_RDWR), PG);
    memset(other, 'o', 16);
    printf("mapping of a closed, unlinked file keeps its data: shared [%.10s] private [%.10s]\n", lm, lp);
    p = fork();
    if (p == 0) {
        memcpy(lm, "from child", 10);
        _exit(0);
    }
    reap("lone child", p);
    printf("... and stays shared with a child: [%.10s]\n", lm);

    // Shared anonymous memory and /dev/zero across fork.
    int *anon = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    int zfd = open("/dev/zero", O_RDWR);
    int *z = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, zfd, 0);
    int *zp = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, zfd, 0);
    p = fork();
    if (p == 0) {
        anon[5] = 1234;
        z[6] = 5678;
        zp[7] = 9;
        _exit(0);
    }
    reap("anon child", p);
    printf("shared anon: %d, shared /dev/zero: %d, private /dev/zero: %d\n", anon[5], z[6], zp[7]);

    // MAP_FIXED replaces, MAP_FIXED_NOREPLACE refuses.
    char *a = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    a[0] = 1;
    a[PG] = 2;
    char *b = mmap(a + PG, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    check("MAP_FIXED at the requested address, fresh page", b == a + PG && b[0] == 0 && a[0] == 1);
    void *nr = mmap(a, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    rep_err("MAP_FIXED_NOREPLACE over a mapping", nr == MAP_FAILED ? -1 : 0);
    void *pop = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE | MAP_NORESERVE, -1, 0);
    check("MAP_POPULATE|MAP_NORESERVE", pop != MAP_FAILED && ((char *)pop)[3 * PG] == 0);
    rep_err("munmap unaligned", munmap(a + 1, PG));
    munmap(a, 2 * PG);
    rep("munmap of a range with nothing mapped", munmap(a, 2 * PG));
    scratch_done(dir);
    done();
}
