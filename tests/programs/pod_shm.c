/* pod_shm.c - shared memory between two containers of one pod (tests/tests/cri.rs runs it in
 * containers A and B at the same time, through CRI ExecSync).
 *
 *   pod_shm sysv KEY a|b    a System V segment with key KEY (IPC namespace of the pod)
 *   pod_shm file PATH a|b   a file (in the pod's /dev/shm) mapped MAP_SHARED
 *
 * Side a creates the object, writes "hello from a" at offset 0 through its mapping and waits
 * for "hello from b" at offset 64; side b waits for the object, attaches it, waits for a's
 * message and writes its own. Both write only through the mapping (never write(2)), so each
 * sees the other's words only if the two containers share the memory itself. Each side prints
 * one line, `a: saw hello from b` / `b: saw hello from a`, and exits 0; after 10 s without the
 * other side's words it prints what it found and exits 1. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SIZE 4096
#define WAIT_MS 10000

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int shm_id = -1;

/* Attaches the object, creating it on side a; NULL after WAIT_MS on side b. */
static volatile char *attach(const char *kind, const char *name, int creator) {
    for (int waited = 0; waited < WAIT_MS; waited += 10) {
        if (strcmp(kind, "sysv") == 0) {
            key_t key = (key_t)strtol(name, NULL, 0);
            int id = shmget(key, SIZE, creator ? IPC_CREAT | 0600 : 0);
            if (id >= 0) {
                void *p = shmat(id, NULL, 0);
                if (p == (void *)-1) {
                    perror("shmat");
                    exit(2);
                }
                shm_id = id;
                return p;
            }
        } else {
            int fd = open(name, creator ? O_RDWR | O_CREAT : O_RDWR, 0600);
            struct stat st;
            if (fd >= 0 && creator && ftruncate(fd, SIZE) != 0) {
                perror("ftruncate");
                exit(2);
            }
            if (fd >= 0 && fstat(fd, &st) == 0 && st.st_size >= SIZE) {
                void *p = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
                if (p == MAP_FAILED) {
                    perror("mmap");
                    exit(2);
                }
                close(fd);
                return p;
            }
            if (fd >= 0)
                close(fd);
        }
        if (creator) {
            perror("create");
            exit(2);
        }
        sleep_ms(10);
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 4 || (strcmp(argv[1], "sysv") && strcmp(argv[1], "file")) ||
        (strcmp(argv[3], "a") && strcmp(argv[3], "b"))) {
        fprintf(stderr, "usage: pod_shm sysv KEY a|b | pod_shm file PATH a|b\n");
        return 2;
    }
    int is_a = strcmp(argv[3], "a") == 0;
    const char *mine = is_a ? "hello from a" : "hello from b";
    const char *theirs = is_a ? "hello from b" : "hello from a";
    volatile char *p = attach(argv[1], argv[2], is_a);
    if (!p) {
        printf("%s: %s %s never appeared\n", argv[3], argv[1], argv[2]);
        return 1;
    }
    volatile char *my_slot = p + (is_a ? 0 : 64);
    volatile char *their_slot = p + (is_a ? 64 : 0);
    if (is_a)
        for (size_t i = 0; i <= strlen(mine); i++)
            my_slot[i] = mine[i];
    for (int waited = 0; waited < WAIT_MS; waited += 10) {
        char seen[64];
        for (size_t i = 0; i < sizeof seen; i++)
            seen[i] = their_slot[i];
        seen[sizeof seen - 1] = 0;
        if (strcmp(seen, theirs) == 0) {
            if (!is_a)
                for (size_t i = 0; i <= strlen(mine); i++)
                    my_slot[i] = mine[i];
            printf("%s: saw %s\n", argv[3], theirs);
            /* b removes the object once it has answered (a has it attached by then): the
             * segment goes when both have detached, i.e. exited. */
            if (!is_a && shm_id >= 0)
                shmctl(shm_id, IPC_RMID, NULL);
            if (!is_a && strcmp(argv[1], "file") == 0)
                unlink(argv[2]);
            return 0;
        }
        sleep_ms(10);
    }
    char seen[64];
    for (size_t i = 0; i < sizeof seen; i++)
        seen[i] = their_slot[i];
    seen[sizeof seen - 1] = 0;
    printf("%s: timed out; the other side's slot holds \"%s\"\n", argv[3], seen);
    return 1;
}
