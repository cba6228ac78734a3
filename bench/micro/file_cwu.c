/* Copied from the project's shared OCI runtime benchmark harness (shared/bench); keep in sync with it. */
/* file_cwu: create (O_CREAT|O_TRUNC) + write 4 KiB + close + unlink of a
 * small file in $BENCH_DIR (default /tmp; run.sh and the bundle config set
 * BENCH_DIR=/bench/scratch, a plain rootfs directory, not a tmpfs). */
#include "bench.h"

static char buf[4096];

int main(int argc, char **argv)
{
    char path[4096];
    bench_init(argc, argv, "file_cwu", 20000);
    snprintf(path, sizeof path, "%s/bench_cwu_%d.tmp", bench_dir(), (int)getpid());
    memset(buf, 'y', sizeof buf);
    BENCH(16, {
        int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
        if (fd < 0)
            bench_die("open(O_CREAT)");
        if (write(fd, buf, sizeof buf) != (ssize_t)sizeof buf)
            bench_die("write");
        if (close(fd) != 0)
            bench_die("close");
        if (unlink(path) != 0)
            bench_die("unlink");
    });
    return 0;
}
