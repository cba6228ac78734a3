/* POSIX shared memory and named semaphores through /dev/shm: shm_open (O_CREAT|O_EXCL, sizes
 * via ftruncate, fstat), MAP_SHARED between processes, the object visible as a /dev/shm file,
 * shm_unlink (mapping stays valid, name gone), sem_open/sem_wait/sem_post across fork (glibc:
 * a /dev/shm file + shared futexes), sem_unlink. */
#include "moat_test.h"
#include <dirent.h>
#include <fcntl.h>
#include <semaphore.h>
#include <sys/mman.h>

int main(void) {
    setup();
    shm_unlink("/moat-psx");
    int fd = shm_open("/moat-psx", O_CREAT | O_EXCL | O_RDWR, 0600);
    rep("shm_open O_CREAT|O_EXCL", fd);
    rep_err("again with O_EXCL", shm_open("/moat-psx", O_CREAT | O_EXCL | O_RDWR, 0600));
    rep("ftruncate 8192", ftruncate(fd, 8192));
    struct stat st;
    fstat(fd, &st);
    printf("fstat size=%ld mode=%04o\n", (long)st.st_size, st.st_mode & 0777);
    printf("/dev/shm/moat-psx exists: %s\n", access("/dev/shm/moat-psx", F_OK) == 0 ? "yes" : "no");
    char *p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    strcpy(p, "hello");
    pid_t c = fork();
    if (c == 0) {
        int f2 = shm_open("/moat-psx", O_RDWR, 0);
        char *q = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, f2, 0);
        printf("  child mapped it by name and sees: %s\n", q);
        strcpy(q + 4096, "from the child");
        _exit(0);
    }
    reap("child", c);
    printf("parent sees: %s\n", p + 4096);
    char buf[32] = {0};
    int f3 = open("/dev/shm/moat-psx", O_RDONLY);
    pread(f3, buf, sizeof buf - 1, 4096);
    printf("read through /dev/shm: %s\n", buf);
    rep("shm_unlink", shm_unlink("/moat-psx"));
    printf("mapping still valid: %s\n", p);
    rep_err("shm_open after unlink", shm_open("/moat-psx", O_RDWR, 0));
    rep_err("shm_unlink again", shm_unlink("/moat-psx"));

    sem_unlink("/moat-sem");
    sem_t *s = sem_open("/moat-sem", O_CREAT | O_EXCL, 0600, 0);
    rep("sem_open", s == SEM_FAILED ? -1 : 0);
    printf("/dev/shm/sem.moat-sem exists: %s\n", access("/dev/shm/sem.moat-sem", F_OK) == 0 ? "yes" : "no");
    c = fork();
    if (c == 0) {
        sem_t *t = sem_open("/moat-sem", 0);
        for (int i = 0; i < 3; i++) {
            sleep_ms(20);
            sem_post(t);
        }
        _exit(0);
    }
    for (int i = 0; i < 3; i++) sem_wait(s);
    printf("got 3 posts from the child\n");
    reap("poster", c);
    int v = -1;
    sem_getvalue(s, &v);
    printf("value now: %d\n", v);
    rep_err("sem_trywait at 0", sem_trywait(s));
    sem_close(s);
    rep("sem_unlink", sem_unlink("/moat-sem"));
    rep_err("sem_open after unlink", sem_open("/moat-sem", 0) == SEM_FAILED ? -1 : 0);
    // As Python's multiprocessing does: the name is unlinked at once, the semaphore lives on
    // in the mappings of the parent and the child.
    sem_t *anon = sem_open("/moat-sem2", O_CREAT | O_EXCL, 0600, 0);
    sem_unlink("/moat-sem2");
    c = fork();
    if (c == 0) {
        sleep_ms(50);
        sem_post(anon);
        _exit(0);
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 5;
    rep("sem_timedwait on an unlinked named semaphore posted by a child", sem_timedwait(anon, &ts));
    reap("poster 2", c);
    rep_err("shm_open of a name with a slash inside", shm_open("/a/b", O_RDWR | O_CREAT, 0600));
    done();
}
