/* FIFOs made with mknodat: stat type, open rules (O_RDONLY|O_NONBLOCK succeeds without a writer,
 * O_WRONLY|O_NONBLOCK fails with ENXIO without a reader, a blocking open waits for the other
 * end, O_RDWR never blocks), data between processes, EOF when the writer closes, EPIPE/SIGPIPE
 * when the reader is gone; mknodat of other node types and its errors. */
#include "moat_test.h"
#include <fcntl.h>
#include <poll.h>
#include <sys/sysmacros.h>

int main(void) {
    setup();
    char dir[64], f[128];
    scratch("fs_fifo", dir, sizeof dir);
    int d = open(dir, O_RDONLY | O_DIRECTORY);
    rep("mknodat S_IFIFO", mknodat(d, "fifo", S_IFIFO | 0644, 0));
    snprintf(f, sizeof f, "%s/fifo", dir);
    struct stat st;
    stat(f, &st);
    printf("is a fifo: %s mode=%04o size=%ld\n", S_ISFIFO(st.st_mode) ? "yes" : "no", st.st_mode & 07777, (long)st.st_size);
    rep_err("mknodat existing", mknodat(d, "fifo", S_IFIFO | 0644, 0));
    rep("mkfifo", mkfifo("/tmp/fs_fifo.d/fifo2", 0600));

    int r = open(f, O_RDONLY | O_NONBLOCK);
    rep("O_RDONLY|O_NONBLOCK without a writer", r);
    char buf[64];
    errno = 0;
    printf("read with no writer ever: %zd %s\n", read(r, buf, sizeof buf), errname(errno));
    close(r);
    rep_err("O_WRONLY|O_NONBLOCK without a reader", open(f, O_WRONLY | O_NONBLOCK));
    int rw = open(f, O_RDWR);
    rep("O_RDWR does not block", rw);
    close(rw);

    pid_t p = fork();
    if (p == 0) {
        int w = open(f, O_WRONLY); /* waits for the reader */
        write(w, "through the fifo", 16);
        sleep_ms(50);
        write(w, " and more", 9);
        close(w);
        _exit(0);
    }
    long t0 = now_ms(CLOCK_MONOTONIC);
    r = open(f, O_RDONLY);
    (void)t0;
    char all[64] = {0};
    size_t got = 0;
    ssize_t n;
    while ((n = read(r, all + got, sizeof all - 1 - got)) > 0) got += n;
    printf("reader got: %s, then EOF (%zd)\n", all, n);
    reap("writer", p);
    close(r);

    p = fork();
    if (p == 0) {
        int w = open(f, O_WRONLY);
        char c;
        (void)c;
        sleep_ms(100);
        signal(SIGPIPE, SIG_IGN);
        errno = 0;
        ssize_t k = write(w, "x", 1);
        printf("  write after the reader left: %zd %s\n", k, errname(errno));
        signal(SIGPIPE, SIG_DFL);
        write(w, "x", 1);
        _exit(0);
    }
    r = open(f, O_RDONLY);
    close(r);
    reap("writer whose reader left (SIGPIPE by default)", p);

    r = open(f, O_RDONLY | O_NONBLOCK);
    int w = open(f, O_WRONLY | O_NONBLOCK);
    struct pollfd pf = {r, POLLIN, 0};
    printf("poll before data: %d\n", poll(&pf, 1, 0));
    write(w, "p", 1);
    printf("poll after data: %d revents=%#x\n", poll(&pf, 1, 0), pf.revents);
    read(r, buf, 1);
    close(w);
    poll(&pf, 1, 0);
    printf("after the writer closed: POLLHUP=%d\n", !!(pf.revents & POLLHUP));
    close(r);

    rep("mknodat S_IFREG", mknodat(d, "regular", S_IFREG | 0600, 0));
    stat("/tmp/fs_fifo.d/regular", &st);
    printf("regular: %s size=%ld\n", S_ISREG(st.st_mode) ? "yes" : "no", (long)st.st_size);
    rep("mknodat S_IFSOCK", mknodat(d, "sock", S_IFSOCK | 0600, 0));
    rep("mknodat /dev/null-like char device as root", mknodat(d, "null", S_IFCHR | 0666, makedev(1, 3)));
    rep_err("mknodat S_IFDIR", mknodat(d, "dir", S_IFDIR | 0755, 0));
    rep_err("mknodat bad type", mknodat(d, "bad", 0170000 | 0644, 0));
    scratch_done(dir);
    done();
}
