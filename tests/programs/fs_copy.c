/* Zero-copy paths: sendfile (file to file, file to pipe, with and without an offset pointer,
 * count past EOF), copy_file_range (offsets, same file non-overlapping, overlap EINVAL),
 * splice (pipe<->file, SPLICE_F_NONBLOCK on an empty pipe, offsets), tee (duplicating pipe
 * data), and their errors. */
#include "moat_test.h"
#include <fcntl.h>
#include <sys/sendfile.h>

static char dir[64];

static void content(const char *what, int fd) {
    char buf[256];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    buf[n > 0 ? n : 0] = 0;
    printf("%s: [%s]\n", what, buf);
}

int main(void) {
    setup();
    scratch("fs_copy", dir, sizeof dir);
    char p[128];
    snprintf(p, sizeof p, "%s/src", dir);
    int src = open(p, O_RDWR | O_CREAT | O_TRUNC, 0644);
    write(src, "The quick brown fox jumps over the lazy dog", 43);
    snprintf(p, sizeof p, "%s/dst", dir);
    int dst = open(p, O_RDWR | O_CREAT | O_TRUNC, 0644);

    lseek(src, 4, SEEK_SET);
    printf("sendfile file->file from the current offset: %zd\n", sendfile(dst, src, NULL, 5));
    printf("src offset advanced to %ld\n", (long)lseek(src, 0, SEEK_CUR));
    off_t off = 10;
    printf("sendfile with an offset pointer: %zd, offset now %ld, src offset still %ld\n", sendfile(dst, src, &off, 6), (long)off,
           (long)lseek(src, 0, SEEK_CUR));
    content("dst", dst);
    off = 40;
    printf("sendfile past EOF: %zd\n", sendfile(dst, src, &off, 100));
    int pp[2];
    pipe(pp);
    off = 0;
    printf("sendfile file->pipe: %zd\n", sendfile(pp[1], src, &off, 9));
    char buf[64] = {0};
    read(pp[0], buf, sizeof buf);
    printf("pipe got: %s\n", buf);
    rep_err("sendfile from a pipe", sendfile(dst, pp[0], NULL, 4));
    rep_err("sendfile to an O_RDONLY fd", sendfile(open("/etc/passwd", O_RDONLY), src, &off, 4));

    ftruncate(dst, 0);
    off_t in = 4, out = 0;
    printf("copy_file_range: %zd, in=%ld out=%ld\n", copy_file_range(src, &in, dst, &out, 11, 0), (long)in, (long)out);
    content("dst", dst);
    lseek(src, 0, SEEK_SET);
    lseek(dst, 0, SEEK_END);
    printf("copy_file_range using file offsets: %zd\n", copy_file_range(src, NULL, dst, NULL, 4, 0));
    content("dst", dst);
    in = 0;
    out = 43;
    printf("copy_file_range within one file: %zd\n", copy_file_range(src, &in, src, &out, 3, 0));
    content("src", src);
    in = 0;
    out = 2;
    rep_err("copy_file_range overlapping", copy_file_range(src, &in, src, &out, 10, 0));
    rep_err("copy_file_range flags", copy_file_range(src, &in, dst, &out, 1, 1));
    in = 1000;
    printf("copy_file_range at EOF: %zd\n", copy_file_range(src, &in, dst, NULL, 5, 0));
    rep_err("copy_file_range from a pipe", copy_file_range(pp[0], NULL, dst, NULL, 5, 0));

    // splice
    write(pp[1], "spliced!", 8);
    ftruncate(dst, 0);
    off_t so = 0;
    printf("splice pipe->file: %zd\n", splice(pp[0], NULL, dst, &so, 64, 0));
    content("dst", dst);
    so = 4;
    printf("splice file->pipe from offset 4: %zd\n", splice(src, &so, pp[1], NULL, 5, 0));
    memset(buf, 0, sizeof buf);
    read(pp[0], buf, sizeof buf);
    printf("pipe got: %s\n", buf);
    rep_err("splice from an empty pipe with SPLICE_F_NONBLOCK", splice(pp[0], NULL, dst, NULL, 4, SPLICE_F_NONBLOCK));
    rep_err("splice without a pipe", splice(src, NULL, dst, NULL, 4, 0));
    rep_err("splice with an offset for a pipe", splice(pp[0], &so, dst, NULL, 4, 0));
    int q[2];
    pipe(q);
    write(pp[1], "teedata", 7);
    printf("tee: %zd\n", tee(pp[0], q[1], 64, 0));
    memset(buf, 0, sizeof buf);
    read(q[0], buf, sizeof buf);
    printf("tee copy: %s\n", buf);
    memset(buf, 0, sizeof buf);
    read(pp[0], buf, sizeof buf);
    printf("original still there: %s\n", buf);
    rep_err("tee from an empty pipe, nonblocking", tee(pp[0], q[1], 4, SPLICE_F_NONBLOCK));
    rep_err("tee to itself", tee(pp[0], pp[1], 4, 0));
    rep_err("tee with a file", tee(src, q[1], 4, 0));
    printf("pipe to pipe splice: ");
    write(pp[1], "p2p", 3);
    printf("%zd\n", splice(pp[0], NULL, q[1], NULL, 16, 0));
    memset(buf, 0, sizeof buf);
    read(q[0], buf, sizeof buf);
    printf("got: %s\n", buf);
    scratch_done(dir);
    done();
}
