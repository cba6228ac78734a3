/* Sparse files on the rootfs (/tmp) and on tmpfs (/dev/shm): a file truncated to 3 GiB,
 * written a page at a time far apart, read back (holes read as zeros), holes punched
 * (fallocate PUNCH_HOLE|KEEP_SIZE), shrunk and grown again. Linux stores only the pages
 * written, so this fits in a small memory limit (tests/runc_parity.rs runs it under 256
 * MiB); the sandbox must do the same. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define GiB (1LL << 30)

static int all(const char *b, int n, char c) {
    for (int i = 0; i < n; i++)
        if (b[i] != c) return 0;
    return 1;
}

static void probe(const char *dir) {
    char path[256], page[4096], back[4096];
    snprintf(path, sizeof path, "%s/sparse-file", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) { printf("%s: open failed\n", dir); return; }
    struct stat st;
    printf("%s: ftruncate 3G %d", dir, ftruncate(fd, 3 * GiB));
    fstat(fd, &st);
    printf(" size %lld\n", (long long)st.st_size);
    long long offs[] = {0, 1 * GiB + 123, 2 * GiB, 3 * GiB - 4096};
    for (int i = 0; i < 4; i++) {
        memset(page, 'a' + i, sizeof page);
        printf("  pwrite @%lld: %zd\n", offs[i], pwrite(fd, page, sizeof page, offs[i]));
    }
    for (int i = 0; i < 4; i++) {
        ssize_t n = pread(fd, back, sizeof back, offs[i]);
        printf("  pread @%lld: %zd same %d\n", offs[i], n, n == 4096 && all(back, 4096, 'a' + i));
    }
    ssize_t n = pread(fd, back, sizeof back, GiB / 2);
    printf("  hole reads zeros: %zd %d\n", n, n == 4096 && all(back, 4096, 0));
    /* The page at 1 GiB + 123 straddles two pages: punch the whole of both. */
    printf("  punch: %d\n", fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, GiB, 8192));
    n = pread(fd, back, sizeof back, GiB + 123);
    printf("  punched reads zeros: %zd %d\n", n, n == 4096 && all(back, 4096, 0));
    fstat(fd, &st);
    printf("  size after punch %lld\n", (long long)st.st_size);
    printf("  shrink to 2G+10 %d", ftruncate(fd, 2 * GiB + 10));
    printf(" grow to 3G %d\n", ftruncate(fd, 3 * GiB));
    n = pread(fd, back, sizeof back, 2 * GiB);
    printf("  kept 10 bytes then zeros: %zd %d %d\n", n, all(back, 10, 'c'), all(back + 10, 4086, 0));
    n = pread(fd, back, sizeof back, 3 * GiB - 4096);
    printf("  cut page reads zeros: %zd %d\n", n, n == 4096 && all(back, 4096, 0));
    close(fd);
    printf("  unlink %d\n", unlink(path));
}

int main(void) {
    probe("/tmp");
    probe("/dev/shm");
    printf("done: ok\n");
    return 0;
}
