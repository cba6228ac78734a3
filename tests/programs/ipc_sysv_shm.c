/* System V shared memory: shmget (IPC_PRIVATE, keys, IPC_CREAT|IPC_EXCL, ENOENT, size checks),
 * shmat/shmdt (data shared with a child, SHM_RDONLY faults on write, attaching at an address),
 * shmctl IPC_STAT (size, nattch, mode, cpid), IPC_SET, IPC_RMID with attachments left (the
 * segment lives until the last detach), shmdt of a non-segment. */
#include "moat_test.h"
#include <sys/ipc.h>
#include <sys/shm.h>

int main(void) {
    setup();
    int id = shmget(IPC_PRIVATE, 10000, IPC_CREAT | 0600);
    rep("shmget IPC_PRIVATE", id);
    struct shmid_ds ds;
    shmctl(id, IPC_STAT, &ds);
    printf("segsz=%zu nattch=%lu mode=%04o cpid is us: %s\n", ds.shm_segsz, (unsigned long)ds.shm_nattch, ds.shm_perm.mode & 0777,
           ds.shm_cpid == getpid() ? "yes" : "no");
    char *p = shmat(id, NULL, 0);
    rep("shmat", p == (void *)-1 ? -1 : 0);
    check("fresh segment is zeroed", p[0] == 0 && p[9999] == 0);
    strcpy(p, "parent wrote");
    shmctl(id, IPC_STAT, &ds);
    printf("nattch after shmat: %lu\n", (unsigned long)ds.shm_nattch);
    pid_t c = fork();
    if (c == 0) {
        printf("  child sees: %s\n", p);
        strcpy(p + 100, "child wrote");
        char *q = shmat(id, NULL, 0);
        printf("  second attach in the child sees the same: %s\n", q + 100);
        shmdt(q);
        _exit(0);
    }
    reap("child", c);
    printf("parent sees: %s\n", p + 100);
    shmctl(id, IPC_STAT, &ds);
    printf("nattch after the child exited: %lu\n", (unsigned long)ds.shm_nattch);

    char *ro = shmat(id, NULL, SHM_RDONLY);
    printf("read-only attach reads: %s\n", ro);
    probe("write to a SHM_RDONLY attach", ro, 1);

    key_t key = 0x4d4f4154;
    int k1 = shmget(key, 4096, IPC_CREAT | IPC_EXCL | 0640);
    rep("shmget with a key, IPC_EXCL", k1);
    rep_err("again with IPC_EXCL", shmget(key, 4096, IPC_CREAT | IPC_EXCL | 0640));
    printf("lookup by key finds it: %s\n", shmget(key, 0, 0) == k1 ? "yes" : "no");
    rep_err("lookup with a larger size", shmget(key, 8192, 0));
    rep_err("missing key", shmget(0x12345678, 4096, 0));
    rep_err("size 0 with IPC_CREAT", shmget(IPC_PRIVATE, 0, IPC_CREAT | 0600));
    struct shmid_ds set;
    shmctl(k1, IPC_STAT, &set);
    set.shm_perm.mode = 0604;
    rep("IPC_SET mode", shmctl(k1, IPC_SET, &set));
    shmctl(k1, IPC_STAT, &set);
    printf("mode now %04o, key %#x\n", set.shm_perm.mode & 0777, set.shm_perm.__key);
    rep("IPC_RMID unattached", shmctl(k1, IPC_RMID, NULL));
    rep_err("IPC_STAT after IPC_RMID", shmctl(k1, IPC_STAT, &set));

    rep("IPC_RMID while attached", shmctl(id, IPC_RMID, NULL));
    printf("still usable: %s\n", p);
    shmctl(id, IPC_STAT, &ds);
    printf("marked destroyed: %s\n", ds.shm_perm.mode & SHM_DEST ? "yes" : "no");
    rep("shmdt", shmdt(p));
    rep("shmdt ro", shmdt(ro));
    rep_err("IPC_STAT once the last attach is gone", shmctl(id, IPC_STAT, &ds));
    rep_err("shmdt of a non-segment", shmdt(&ds));
    rep_err("shmat of a bad id", shmat(999999, NULL, 0) == (void *)-1 ? -1 : 0);
    struct shminfo info;
    rep("IPC_INFO", shmctl(0, IPC_INFO, (struct shmid_ds *)&info));
    printf("shmmax >= 1 MiB: %s\n", info.shmmax >= (1 << 20) ? "yes" : "no");
    done();
}
