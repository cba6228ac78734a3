/* execve from a thread that is not the main thread: the other threads (one blocked in a
 * futex wait, one in read) disappear, the process keeps its pid, the new image has one
 * thread whose tid is the pid, and fds without O_CLOEXEC survive. */
#include "moat_test.h"
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/syscall.h>

static int pfd[2], go[2];
static char self_pid[32];
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;

static void *blocked_read(void *a) {
    (void)a;
    char c;
    if (read(pfd[0], &c, 1) >= 0) printf("reader woke: unexpected\n");
    return NULL;
}
static void *blocked_cond(void *a) {
    (void)a;
    pthread_mutex_lock(&mu);
    pthread_cond_wait(&cv, &mu);
    printf("cond woke: unexpected\n");
    return NULL;
}
static void *execer(void *a) {
    (void)a;
    char g;
    if (read(go[0], &g, 1) != 1) _exit(3);
    char fdarg[16];
    snprintf(fdarg, sizeof fdarg, "%d", pfd[1]);
    char *argv[] = {"/opt/moat-tests/elf_exec_thread", "after", self_pid, fdarg, NULL};
    char *envp[] = {"X=1", NULL};
    execve(argv[0], argv, envp);
    printf("execve from thread: %s\n", errname(errno));
    _exit(1);
}

static int count_tasks(void) {
    DIR *d = opendir("/proc/self/task");
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (e->d_name[0] != '.') n++;
    if (d) closedir(d);
    return n;
}

int main(int argc, char **argv) {
    setup();
    if (argc == 4 && strcmp(argv[1], "after") == 0) {
        check("after exec: same pid", atoi(argv[2]) == getpid());
        check("after exec: tid == pid", syscall(SYS_gettid) == getpid());
        printf("after exec: tasks in /proc/self/task: %d\n", count_tasks());
        FILE *f = fopen("/proc/self/status", "r");
        char line[256];
        while (f && fgets(line, sizeof line, f))
            if (strncmp(line, "Threads:", 8) == 0) printf("after exec: %s", line);
        if (f) fclose(f);
        int fd = atoi(argv[3]);
        check("after exec: inherited pipe fd still open", fcntl(fd, F_GETFD) >= 0);
        return 7;
    }
    pid_t c = fork();
    if (c == 0) {
        snprintf(self_pid, sizeof self_pid, "%d", getpid());
        if (pipe(pfd) < 0 || pipe2(go, O_CLOEXEC) < 0) _exit(2);
        pthread_t t1, t2, t3;
        pthread_create(&t1, NULL, blocked_read, NULL);
        pthread_create(&t2, NULL, blocked_cond, NULL);
        pthread_create(&t3, NULL, execer, NULL);
        printf("before exec: tasks: %d\n", count_tasks());
        if (write(go[1], "g", 1) != 1) _exit(4);
        for (;;) pause();
    }
    reap("child", c);
    check("no other children left", waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD);
    done();
}
