/* Writing to files that came with the image (the rootfs: an overlay in the sandbox, a plain
 * directory natively): partial overwrite keeps the rest, append, truncate, chmod/chown/utimes
 * keep the data, rename and unlink of image files, hard links to an image file stay one inode,
 * a shared mapping written through, a directory of the image renamed and filled, and an image
 * file removed and recreated. The files are in /opt/moat-tests/data (made by mkrootfs.sh);
 * natively the program puts them back as they were at the end. */
#include "moat_test.h"
#include <fcntl.h>
#include <sys/mman.h>

#define D "/opt/moat-tests/data"

static void show(const char *path) {
    char buf[256] = {0};
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        printf("  %s: %s\n", path, errname(errno));
        return;
    }
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    struct stat st;
    stat(path, &st);
    buf[n > 0 ? n : 0] = 0;
    buf[strcspn(buf, "\n")] = 0;
    printf("  %s: mode=%04o uid=%u nlink=%lu size=%ld [%s]\n", path, st.st_mode & 07777, st.st_uid, (unsigned long)st.st_nlink,
           (long)st.st_size, buf);
}

static void put(const char *path, const char *s, mode_t m) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, m);
    write(fd, s, strlen(s));
    close(fd);
    chmod(path, m);
    chown(path, 0, 0);
}

int main(void) {
    setup();
    show(D "/one.txt");
    int fd = open(D "/one.txt", O_RDWR);
    pwrite(fd, "ONE", 3, 0);
    close(fd);
    printf("partial overwrite:\n");
    show(D "/one.txt");
    fd = open(D "/two.txt", O_WRONLY | O_APPEND);
    write(fd, " appended", 9);
    close(fd);
    printf("append:\n");
    show(D "/two.txt");
    truncate(D "/three.txt", 4);
    printf("truncate:\n");
    show(D "/three.txt");
    chmod(D "/four.txt", 0600);
    chown(D "/four.txt", 42, 42);
    struct timespec ts[2] = {{1000000000, 0}, {1000000000, 0}};
    utimensat(AT_FDCWD, D "/four.txt", ts, 0);
    printf("chmod/chown/utimes:\n");
    show(D "/four.txt");
    struct stat st;
    stat(D "/four.txt", &st);
    printf("  mtime: %ld\n", (long)st.st_mtim.tv_sec);

    printf("hard link of an image file, then write through it:\n");
    rep("  link", link(D "/five.txt", D "/five-link.txt"));
    fd = open(D "/five-link.txt", O_WRONLY | O_APPEND);
    write(fd, "+via link", 9);
    close(fd);
    show(D "/five.txt");
    struct stat a, b;
    stat(D "/five.txt", &a);
    stat(D "/five-link.txt", &b);
    printf("  same inode: %s\n", a.st_ino == b.st_ino ? "yes" : "no");

    printf("rename and unlink:\n");
    rep("  rename", rename(D "/six.txt", D "/six-renamed.txt"));
    show(D "/six.txt");
    show(D "/six-renamed.txt");
    rep("  unlink", unlink(D "/seven.txt"));
    show(D "/seven.txt");
    put(D "/seven.txt", "recreated", 0644);
    show(D "/seven.txt");

    printf("shared mapping of an image file:\n");
    fd = open(D "/eight.txt", O_RDWR);
    char *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    memcpy(m, "MAPPED", 6);
    msync(m, 4096, MS_SYNC);
    munmap(m, 4096);
    close(fd);
    show(D "/eight.txt");

    printf("image directory renamed and written into:\n");
    rep("  rename dir", rename(D "/dir", D "/dir-moved"));
    show(D "/dir-moved/inner.txt");
    put(D "/dir-moved/new.txt", "new in moved dir", 0644);
    show(D "/dir-moved/new.txt");
    rep_err("  old name gone", access(D "/dir", F_OK));
    rep_err("  rmdir of a non-empty image dir", rmdir(D "/dir-moved"));

    // Natively this changed the shared rootfs copy: put it back.
    put(D "/one.txt", "one: the first file\n", 0644);
    put(D "/two.txt", "two: the second file\n", 0644);
    put(D "/three.txt", "three: the third file\n", 0644);
    put(D "/four.txt", "four: the fourth file\n", 0644);
    unlink(D "/five-link.txt");
    put(D "/five.txt", "five: the fifth file\n", 0644);
    rename(D "/six-renamed.txt", D "/six.txt");
    put(D "/seven.txt", "seven: the seventh file\n", 0644);
    put(D "/eight.txt", "eight: the eighth file\n", 0644);
    unlink(D "/dir-moved/new.txt");
    rename(D "/dir-moved", D "/dir");
    done();
}
