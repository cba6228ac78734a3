/* Mounts from the spec: a tmpfs (size and mode options, statfs type and size, its own device),
 * a read-write bind mount of a host directory (reads the host's files, writes go through: the
 * test compares the host directories afterwards), a read-only bind mount (EROFS for every
 * write, ST_RDONLY), EXDEV across mounts, and /proc/self/mountinfo listing them. */
#include "moat_test.h"
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>

static void cat(const char *p) {
    char b[128] = {0};
    int fd = open(p, O_RDONLY);
    if (fd < 0) {
        printf("  %s: %s\n", p, errname(errno));
        return;
    }
    read(fd, b, sizeof b - 1);
    close(fd);
    b[strcspn(b, "\n")] = 0;
    printf("  %s: %s\n", p, b);
}

int main(void) {
    setup();
    struct statfs sf;
    statfs("/mnt/tmpfs", &sf);
    printf("tmpfs: type ok=%s size=%ld KiB\n", sf.f_type == TMPFS_MAGIC ? "yes" : "no", (long)(sf.f_blocks * sf.f_bsize / 1024));
    struct stat st, root;
    stat("/mnt/tmpfs", &st);
    stat("/", &root);
    printf("tmpfs root mode: %04o, own device: %s\n", st.st_mode & 07777, st.st_dev != root.st_dev ? "yes" : "no");
    int fd = open("/mnt/tmpfs/f", O_CREAT | O_RDWR, 0644);
    write(fd, "in tmpfs", 8);
    close(fd);
    cat("/mnt/tmpfs/f");
    char big[64 * 1024];
    memset(big, 'z', sizeof big);
    fd = open("/mnt/tmpfs/big", O_CREAT | O_WRONLY, 0644);
    long total = 0;
    ssize_t n;
    errno = 0;
    /* bounded: a tmpfs that ignores size= must not eat the host's memory */
    while (total < (4 << 20) && (n = write(fd, big, sizeof big)) > 0) total += n;
    printf("filling the 1m tmpfs stops with %s after >= 900 KiB and <= 1 MiB: %s\n", errname(errno),
           total >= 900 * 1024 && total <= (1 << 20) ? "yes" : "no");
    close(fd);
    unlink("/mnt/tmpfs/big");

    printf("rw bind mount:\n");
    cat("/mnt/rw/hello.txt");
    cat("/mnt/rw/sub/inner.txt");
    fd = open("/mnt/rw/written.txt", O_CREAT | O_WRONLY, 0640);
    write(fd, "from the workload\n", 18);
    close(fd);
    fd = open("/mnt/rw/hello.txt", O_WRONLY | O_APPEND);
    write(fd, "appended\n", 9);
    close(fd);
    mkdir("/mnt/rw/newdir", 0750);
    rename("/mnt/rw/sub/inner.txt", "/mnt/rw/newdir/moved.txt");
    chmod("/mnt/rw/newdir/moved.txt", 0600);
    symlink("hello.txt", "/mnt/rw/link");
    unlink("/mnt/rw/nothing");
    cat("/mnt/rw/newdir/moved.txt");
    rep_err("rename from the bind mount to the rootfs", rename("/mnt/rw/written.txt", "/tmp/fs_mounts.moved"));
    rep_err("link across mounts", link("/mnt/rw/written.txt", "/mnt/tmpfs/l"));

    printf("ro bind mount:\n");
    cat("/mnt/ro/ro.txt");
    rep_err("  create", open("/mnt/ro/new", O_CREAT | O_WRONLY, 0644));
    rep_err("  open for writing", open("/mnt/ro/ro.txt", O_WRONLY));
    rep_err("  unlink", unlink("/mnt/ro/ro.txt"));
    rep_err("  chmod", chmod("/mnt/ro/ro.txt", 0600));
    rep_err("  mkdir", mkdir("/mnt/ro/d", 0755));
    rep_err("  truncate", truncate("/mnt/ro/ro.txt", 0));
    rep_err("  utimes", utimensat(AT_FDCWD, "/mnt/ro/ro.txt", NULL, 0));
    rep_err("  access W_OK", access("/mnt/ro/ro.txt", W_OK));
    rep("  access R_OK", access("/mnt/ro/ro.txt", R_OK));
    struct statvfs sv;
    statvfs("/mnt/ro", &sv);
    printf("  ST_RDONLY: %s\n", sv.f_flag & ST_RDONLY ? "yes" : "no");
    statvfs("/mnt/rw", &sv);
    printf("rw ST_RDONLY: %s\n", sv.f_flag & ST_RDONLY ? "yes" : "no");

    FILE *f = fopen("/proc/self/mountinfo", "r");
    char line[512];
    int seen_tmp = 0, seen_rw = 0, seen_ro = 0, ro_flag = 0;
    while (f && fgets(line, sizeof line, f)) {
        char mp[256] = {0}, opts[256] = {0};
        if (sscanf(line, "%*d %*d %*s %*s %255s %255s", mp, opts) != 2) continue;
        if (strcmp(mp, "/mnt/tmpfs") == 0) seen_tmp = 1;
        if (strcmp(mp, "/mnt/rw") == 0) seen_rw = 1;
        if (strcmp(mp, "/mnt/ro") == 0) {
            seen_ro = 1;
            ro_flag = strncmp(opts, "ro", 2) == 0;
        }
    }
    if (f) fclose(f);
    printf("mountinfo lists /mnt/tmpfs %d, /mnt/rw %d, /mnt/ro %d (ro option %d)\n", seen_tmp, seen_rw, seen_ro, ro_flag);
    done();
}
