// System V shm, semaphores and message queues between a parent and a forked child.
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/sem.h>
#include <sys/msg.h>
#include <sys/wait.h>
#include <unistd.h>
struct m { long t; char s[32]; };
int main() {
  int shm = shmget(IPC_PRIVATE, 4096, IPC_CREAT|0600); char *p = shmat(shm, 0, 0);
  int sem = semget(IPC_PRIVATE, 1, IPC_CREAT|0600);
  int q = msgget(IPC_PRIVATE, IPC_CREAT|0600);
  if (fork() == 0) { strcpy(p, "child wrote"); struct sembuf up = {0, 1, 0}; semop(sem, &up, 1);
    struct m msg = {7, "hello msg"}; msgsnd(q, &msg, sizeof msg.s, 0); _exit(0); }
  struct sembuf down = {0, -1, 0}; semop(sem, &down, 1);
  printf("shm: %s\n", p);
  struct m r; msgrcv(q, &r, sizeof r.s, 7, 0); printf("msg: %ld %s\n", r.t, r.s);
  wait(0); struct shmid_ds ds; shmctl(shm, IPC_STAT, &ds); printf("nattch=%lu size=%zu\n", ds.shm_nattch, ds.shm_segsz);
  shmdt(p); shmctl(shm, IPC_RMID, 0); semctl(sem, 0, IPC_RMID); msgctl(q, IPC_RMID, 0);
  printf("done: ok\n"); return 0; }
