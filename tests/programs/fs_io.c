/* File I/O: truncate/ftruncate (grow with zeros, shrink), fallocate (grow, KEEP_SIZE, PUNCH_HOLE
 * where supported, errors), fsync/fdatasync/syncfs/sync, readv/writev/preadv/pwritev/preadv2/
 * pwritev2 (offset -1 = current position, RWF_APPEND, bad flags), lseek (SEEK_END/SEEK_DATA/
 * SEEK_HOLE, negative results), O_APPEND (writes land at the end, pwrite on O_APPEND appends). */
#include "moat_test.h"
#include <fcntl.h>
#include <sys/syscall.h>
#include <sys/uio.h>

static char dir[64], path[128];

static void show(int fd) {
    struct stat st;
    fstat(fd, &st);
    char buf[128];
    ssize_t n = pread(fd, buf, sizeof buf, 0);
    printf("  size=%ld content=", (long)st.st_size);
    for (ssize_t i = 0; i < n; i++) putchar(buf[i] ? buf[i] : '.');
    printf("\n");
}

int main(void) {
    setup();
    scratch("fs_io", dir, sizeof dir);
    snprintf(path, sizeof path, "%s/f", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    write(fd, "0123456789", 10);
    rep("ftruncate grow to 16", ftruncate(fd, 16));
    show(fd);
    rep("truncate shrink to 4", truncate(path, 4));
    show(fd);
    printf("offset unchanged by truncate: %ld\n", (long)lseek(fd, 0, SEEK_CUR));
    rep_err("ftruncate negative", ftruncate(fd, -1));
    int ro = open(path, O_RDONLY);
    rep_err("ftruncate on O_RDONLY", ftruncate(ro, 0));
    rep_err("truncate a directory", truncate(dir, 0));
    rep_err("truncate missing", truncate("/tmp/fs_io.d/missing", 0));

    rep("fallocate grow to 20", fallocate(fd, 0, 0, 20));
    show(fd);
    rep("fallocate KEEP_SIZE", fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 100));
    show(fd);
    rep_err("fallocate len 0", fallocate(fd, 0, 0, 0));
    rep_err("fallocate on O_RDONLY", fallocate(ro, 0, 0, 10));
    rep_err("fallocate PUNCH_HOLE without KEEP_SIZE", fallocate(fd, FALLOC_FL_PUNCH_HOLE, 0, 2));
    int pp[2];
    pipe(pp);
    rep_err("fallocate on a pipe", fallocate(pp[1], 0, 0, 10));

    rep("fsync", fsync(fd));
    rep("fdatasync", fdatasync(fd));
    rep("syncfs", syncfs(fd));
    sync();
    rep_err("fsync on a pipe", fsync(pp[1]));
    rep_err("fsync on a bad fd", fsync(999));

    ftruncate(fd, 0);
    lseek(fd, 0, SEEK_SET);
    struct iovec w[3] = {{"abc", 3}, {"", 0}, {"defgh", 5}};
    printf("writev: %zd\n", writev(fd, w, 3));
    char b1[2], b2[4], b3[10];
    struct iovec r[3] = {{b1, 2}, {b2, 4}, {b3, 10}};
    lseek(fd, 0, SEEK_SET);
    ssize_t n = readv(fd, r, 3);
    printf("readv: %zd [%.2s][%.4s][%.*s]\n", n, b1, b2, (int)(n > 6 ? n - 6 : 0), b3);
    struct iovec pw[2] = {{"XY", 2}, {"Z", 1}};
    printf("pwritev at 2: %zd\n", pwritev(fd, pw, 2, 2));
    printf("offset after pwritev: %ld\n", (long)lseek(fd, 0, SEEK_CUR));
    show(fd);
    memset(b3, 0, sizeof b3);
    struct iovec pr[1] = {{b3, 4}};
    printf("preadv at 1: %zd %.4s\n", preadv(fd, pr, 1, 1), b3);
    lseek(fd, 5, SEEK_SET);
    struct iovec p2[1] = {{"!", 1}};
    printf("pwritev2 offset -1 (current position): %zd\n", pwritev2(fd, p2, 1, -1, 0));
    printf("offset moved: %ld\n", (long)lseek(fd, 0, SEEK_CUR));
    show(fd);
    struct iovec p3[1] = {{"+", 1}};
    printf("pwritev2 RWF_APPEND: %zd\n", pwritev2(fd, p3, 1, 0, RWF_APPEND));
    show(fd);
    memset(b3, 0, sizeof b3);
    lseek(fd, 0, SEEK_SET);
    printf("preadv2 offset -1: %zd %.3s, offset now %ld\n", preadv2(fd, pr, 1, -1, 0), b3, (long)lseek(fd, 0, SEEK_CUR));
    rep_err("preadv2 bad flags", preadv2(fd, pr, 1, 0, 0x40000000));
    rep("preadv2 RWF_HIPRI", preadv2(fd, pr, 1, 0, RWF_HIPRI));
    struct iovec bad[1] = {{(void *)1, 4}};
    rep_err("readv bad iovec pointer", readv(fd, bad, 1));
    rep_err("readv iovcnt 1025", syscall(SYS_readv, fd, r, 1025));
    rep_err("preadv negative offset", preadv(fd, pr, 1, -5));
    rep_err("pread on a pipe", pread(pp[0], b3, 1, 0));

    printf("SEEK_END -2: %ld\n", (long)lseek(fd, -2, SEEK_END));
    rep_err("SEEK to negative", lseek(fd, -100, SEEK_SET));
    rep_err("bad whence", lseek(fd, 0, 17));
    ftruncate(fd, 0);
    pwrite(fd, "data", 4, 0);
    pwrite(fd, "more", 4, 1 << 20);
    printf("SEEK_DATA from 0: %ld\n", (long)lseek(fd, 0, SEEK_DATA));
    off_t hole = lseek(fd, 0, SEEK_HOLE);
    /* a hole after the first extent, or EOF on filesystems that do not track holes */
    printf("SEEK_HOLE from 0 is past the data, at most EOF: %s\n", hole >= 4 && hole <= (1 << 20) + 4 ? "yes" : "no");
    printf("SEEK_DATA past EOF: %s\n", lseek(fd, (1 << 20) + 100, SEEK_DATA) < 0 ? errname(errno) : "found");
    rep_err("lseek on a pipe", lseek(pp[0], 0, SEEK_SET));

    int ap = open(path, O_WRONLY | O_APPEND | O_TRUNC);
    write(ap, "one", 3);
    lseek(ap, 0, SEEK_SET);
    write(ap, "two", 3);
    pwrite(ap, "Three", 5, 0);
    show(fd);
    printf("F_GETFL has O_APPEND: %d\n", !!(fcntl(ap, F_GETFL) & O_APPEND));
    fcntl(ap, F_SETFL, 0);
    lseek(ap, 0, SEEK_SET);
    write(ap, "X", 1);
    printf("after clearing O_APPEND:\n");
    show(fd);
    close(ap);
    close(fd);
    close(ro);
    scratch_done(dir);
    done();
}
