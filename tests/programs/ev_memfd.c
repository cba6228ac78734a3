// memfd_create: read/write/seek, fstat, mmap shared between fork()ed processes, seals,
// name limits, flags.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef MFD_NOEXEC_SEAL
#define MFD_NOEXEC_SEAL 0x0008U
#endif
#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif

static void report(const char *what, long r) {
    int e = errno;
    printf("%s: %ld %s\n", what, r, r < 0 ? strerror(e) : "ok");
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    int fd = memfd_create("test", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    printf("memfd_create: %s cloexec: %d\n", fd >= 0 ? "ok" : "fail", fcntl(fd, F_GETFD));
    printf("F_GETFL: %#o\n", fcntl(fd, F_GETFL));
    report("write", write(fd, "hello memfd", 11));
    struct stat st;
    fstat(fd, &st);
    printf("size=%ld regular=%s mode=%o nlink=%ld\n", (long)st.st_size, S_ISREG(st.st_mode) ? "yes" : "no",
           st.st_mode & 07777, (long)st.st_nlink);
    char buf[32] = {0};
    lseek(fd, 6, SEEK_SET);
    read(fd, buf, sizeof buf - 1);
    printf("read back: %s\n", buf);
    report("ftruncate 4096", ftruncate(fd, 4096));

    // Shared mapping seen by a child.
    char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    printf("mmap: %s first bytes: %.5s\n", p != MAP_FAILED ? "ok" : "fail", p);
    pid_t c = fork();
    if (c == 0) {
        memcpy(p, "CHILD", 5);
        _exit(0);
    }
    waitpid(c, NULL, 0);
    printf("after child wrote: %.5s\n", p);
    pread(fd, buf, 5, 0);
    buf[5] = 0;
    printf("read through fd: %s\n", buf);
    munmap(p, 4096);

    // Seals.
    printf("seals: %#x\n", fcntl(fd, F_GET_SEALS));
    report("add SHRINK|GROW", fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW));
    printf("seals: %#x\n", fcntl(fd, F_GET_SEALS));
    report("shrink", ftruncate(fd, 10));
    report("grow", ftruncate(fd, 8192));
    report("write inside", pwrite(fd, "abc", 3, 0));
    report("write past end", pwrite(fd, "abc", 3, 4095));
    report("add WRITE|SEAL", fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SEAL));
    report("write sealed", pwrite(fd, "abc", 3, 0));
    report("add after SEAL", fcntl(fd, F_ADD_SEALS, F_SEAL_GROW));
    report("bad seal bits", fcntl(fd, F_ADD_SEALS, 0x4000));

    int plain = memfd_create("plain", 0);
    printf("no ALLOW_SEALING: seals %#x\n", fcntl(plain, F_GET_SEALS));
    report("add to unsealable", fcntl(plain, F_ADD_SEALS, F_SEAL_GROW));
    int reg = open("/etc/passwd", O_RDONLY);
    report("seals on regular file", fcntl(reg, F_GET_SEALS));

    char longname[300];
    memset(longname, 'x', sizeof longname);
    longname[249] = 0;
    int ok = memfd_create(longname, 0);
    report("name of 249", ok < 0 ? -1 : 0);
    longname[249] = 'x';
    longname[250] = 0;
    report("name of 250", memfd_create(longname, 0));
    report("bad flags", memfd_create("x", 0x100));
    report("EXEC|NOEXEC_SEAL", memfd_create("x", MFD_EXEC | MFD_NOEXEC_SEAL));
    int nx = memfd_create("nx", MFD_NOEXEC_SEAL);
    fstat(nx, &st);
    printf("NOEXEC_SEAL: mode=%o seals=%#x\n", st.st_mode & 07777, fcntl(nx, F_GET_SEALS));
    printf("done: ok\n");
    return 0;
}
