/* System V semaphores: semget (sets of 3, keys, IPC_EXCL), semctl SETVAL/GETVAL/SETALL/GETALL/
 * GETNCNT/GETPID/IPC_STAT/IPC_RMID, semop increments and decrements, a child blocked in semop
 * woken by the parent, IPC_NOWAIT EAGAIN, wait-for-zero, SEM_UNDO rolled back at exit,
 * semtimedop timeouts, EIDRM for a waiter when the set is removed. */
#include "moat_test.h"
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/syscall.h>

union semun {
    int val;
    struct semid_ds *buf;
    unsigned short *array;
};

int main(void) {
    setup();
    int id = semget(IPC_PRIVATE, 3, IPC_CREAT | 0600);
    rep("semget", id);
    unsigned short vals[3] = {1, 0, 5};
    rep("SETALL", semctl(id, 0, SETALL, (union semun){.array = vals}));
    unsigned short got[3];
    semctl(id, 0, GETALL, (union semun){.array = got});
    printf("GETALL: %d %d %d\n", got[0], got[1], got[2]);
    rep("SETVAL 1 = 2", semctl(id, 1, SETVAL, (union semun){.val = 2}));
    printf("GETVAL 1: %d\n", semctl(id, 1, GETVAL));
    struct sembuf op = {0, -1, 0};
    rep("semop -1 on sem 0", semop(id, &op, 1));
    printf("GETPID is us: %s\n", semctl(id, 0, GETPID) == getpid() ? "yes" : "no");
    op.sem_flg = IPC_NOWAIT;
    rep_err("semop -1 with IPC_NOWAIT on 0", semop(id, &op, 1));
    struct sembuf multi[2] = {{2, -2, 0}, {1, +1, 0}};
    rep("two operations atomically", semop(id, multi, 2));
    semctl(id, 0, GETALL, (union semun){.array = got});
    printf("now: %d %d %d\n", got[0], got[1], got[2]);

    pid_t c = fork();
    if (c == 0) {
        struct sembuf w = {0, -1, 0};
        int r = semop(id, &w, 1); /* blocks until the parent posts */
        _exit(r == 0 ? 0 : 1);
    }
    sleep_ms(100);
    printf("GETNCNT with a blocked child: %d\n", semctl(id, 0, GETNCNT));
    struct sembuf post = {0, +1, 0};
    semop(id, &post, 1);
    reap("child woken by the post (0)", c);

    c = fork();
    if (c == 0) {
        struct sembuf z = {1, 0, 0}; /* wait until sem 1 is zero */
        _exit(semop(id, &z, 1) == 0 ? 0 : 1);
    }
    sleep_ms(100);
    printf("GETZCNT: %d\n", semctl(id, 1, GETZCNT));
    semctl(id, 1, SETVAL, (union semun){.val = 0});
    reap("wait-for-zero child (0)", c);

    c = fork();
    if (c == 0) {
        struct sembuf u = {2, +10, SEM_UNDO};
        semop(id, &u, 1);
        _exit(semctl(id, 2, GETVAL) == 13 ? 0 : 1);
    }
    reap("SEM_UNDO child saw 13 (0)", c);
    printf("after its exit SEM_UNDO restored: %d\n", semctl(id, 2, GETVAL));

    struct sembuf t = {1, -1, 0};
    struct timespec to = {0, 50000000};
    long t0 = now_ms(CLOCK_MONOTONIC);
    rep_err("semtimedop 50ms", semtimedop(id, &t, 1, &to));
    check("waited >= 45ms", now_ms(CLOCK_MONOTONIC) - t0 >= 45);
    struct semid_ds ds;
    semctl(id, 0, IPC_STAT, (union semun){.buf = &ds});
    printf("IPC_STAT nsems=%lu mode=%04o\n", (unsigned long)ds.sem_nsems, ds.sem_perm.mode & 0777);
    rep_err("semop on sem index 3", semop(id, &(struct sembuf){3, 1, 0}, 1));
    rep_err("SETVAL > SEMVMX", semctl(id, 0, SETVAL, (union semun){.val = 40000}));

    c = fork();
    if (c == 0) {
        struct sembuf w = {1, -1, 0};
        int r = semop(id, &w, 1);
        _exit(r < 0 && errno == EIDRM ? 0 : 1);
    }
    sleep_ms(100);
    rep("IPC_RMID", semctl(id, 0, IPC_RMID));
    reap("waiter gets EIDRM (0)", c);
    rep_err("GETVAL after IPC_RMID", semctl(id, 0, GETVAL));
    int k = semget(0x53454d31, 1, IPC_CREAT | IPC_EXCL | 0600);
    rep("semget with a key", k);
    rep_err("IPC_EXCL again", semget(0x53454d31, 1, IPC_CREAT | IPC_EXCL | 0600));
    rep_err("more semaphores than the set has", semget(0x53454d31, 2, 0));
    semctl(k, 0, IPC_RMID);
    rep_err("nsems 0 with IPC_CREAT", semget(IPC_PRIVATE, 0, IPC_CREAT | 0600));
    done();
}
