/* Thread and process exit: exit_group from a non-main thread ends all threads with its code;
 * the main thread's pthread_exit leaves the process running until the last thread exits;
 * exit() runs atexit handlers and flushes stdio once; a process killed by a signal while its
 * threads block in futex/read/nanosleep; zombie threads never show up as children. */
#include "moat_test.h"
#include <pthread.h>
#include <sys/syscall.h>

static int pp[2];
static void *block_read(void *a) {
    (void)a;
    char c;
    read(pp[0], &c, 1);
    return NULL;
}
static void *block_sleep(void *a) {
    (void)a;
    sleep(100);
    return NULL;
}
static void *exiter(void *a) {
    sleep_ms(50);
    exit((int)(long)a);
}
static void *late_finisher(void *a) {
    (void)a;
    sleep_ms(100);
    printf("  last thread finishing after main's pthread_exit\n");
    fflush(stdout);
    return NULL;
}
static void at_exit_handler(void) { printf("  atexit handler ran\n"); }

int main(void) {
    setup();
    pid_t c = fork();
    if (c == 0) {
        pipe(pp);
        pthread_t t;
        pthread_create(&t, NULL, block_read, NULL);
        pthread_create(&t, NULL, block_sleep, NULL);
        pthread_create(&t, NULL, exiter, (void *)42);
        pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
        pthread_mutex_lock(&m);
        pthread_mutex_lock(&m); /* self-deadlock: only exit_group ends this */
        _exit(1);
    }
    reap("exit(42) from a non-main thread", c);

    c = fork();
    if (c == 0) {
        pthread_t t;
        pthread_create(&t, NULL, late_finisher, NULL);
        pthread_exit(NULL);
    }
    reap("main thread pthread_exit, last thread returns", c);

    c = fork();
    if (c == 0) {
        setvbuf(stdout, NULL, _IOFBF, 4096);
        atexit(at_exit_handler);
        printf("  buffered line flushed by exit\n");
        exit(3);
    }
    reap("exit with atexit and buffered stdio", c);

    c = fork();
    if (c == 0) {
        pipe(pp);
        pthread_t t;
        for (int i = 0; i < 3; i++) pthread_create(&t, NULL, block_read, NULL);
        pthread_create(&t, NULL, block_sleep, NULL);
        for (;;) pause();
    }
    sleep_ms(100);
    kill(c, SIGTERM);
    reap("killed while threads block", c);

    c = fork();
    if (c == 0) {
        pthread_t t;
        pthread_create(&t, NULL, block_sleep, NULL);
        syscall(SYS_exit, 9); /* only the main thread exits; the sleeper keeps the process */
    }
    sleep_ms(100);
    check("process with an exited main thread still running", waitpid(c, NULL, WNOHANG) == 0);
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", c);
    FILE *f = fopen(path, "r");
    char buf[512] = {0};
    if (f) {
        if (!fgets(buf, sizeof buf, f)) buf[0] = 0;
        fclose(f);
    }
    char *rp = strrchr(buf, ')');
    printf("its main thread state: %c\n", rp ? rp[2] : '?');
    kill(c, SIGKILL);
    reap("then killed", c);
    check("no children left", waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD);
    done();
}
