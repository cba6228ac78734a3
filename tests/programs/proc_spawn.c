/* posix_spawn (glibc: clone(CLONE_VM|CLONE_VFORK) and an exec error reported back through
 * shared memory), posix_spawnp PATH search, file actions, spawn attributes (signal mask,
 * default signals, process group, new session), system() and popen(). */
#include "moat_test.h"
#include <fcntl.h>
#include <spawn.h>

extern char **environ;

static pid_t p;
/* Call as `int r = posix_spawn(&p, ...); spawn_and_reap(what, r);` (p is set by the call). */
static void spawn_and_reap(const char *what, int r) {
    if (r != 0) {
        printf("%s: spawn failed: %s\n", what, errname(r));
        return;
    }
    reap(what, p);
}

int main(void) {
    setup();
    char *a1[] = {"sh", "-c", "echo '  spawned sh, args ok'; exit 3", NULL};
    {
        int r_ = posix_spawn(&p, "/bin/sh", NULL, NULL, a1, environ);
        spawn_and_reap("posix_spawn /bin/sh", r_);
    }
    char *a2[] = {"true", NULL};
    printf("posix_spawn of a missing file: %s\n", errname(posix_spawn(&p, "/nonexistent/prog", NULL, NULL, a2, environ)));
    printf("posix_spawn of a directory: %s\n", errname(posix_spawn(&p, "/tmp", NULL, NULL, a2, environ)));
    {
        int r_ = posix_spawnp(&p, "true", NULL, NULL, a2, environ);
        spawn_and_reap("posix_spawnp via PATH", r_);
    }
    printf("posix_spawnp of a missing command: %s\n", errname(posix_spawnp(&p, "no-such-command-x", NULL, NULL, a2, environ)));

    // File actions: stdout to a file, close, dup2.
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/tmp/proc_spawn.out", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    char *a3[] = {"sh", "-c", "echo to-file; echo to-stderr >&2", NULL};
    {
        int r_ = posix_spawn(&p, "/bin/sh", &fa, NULL, a3, environ);
        spawn_and_reap("spawn with file actions", r_);
    }
    char buf[128] = {0};
    int fd = open("/tmp/proc_spawn.out", O_RDONLY);
    read(fd, buf, sizeof buf - 1);
    close(fd);
    printf("file got: %s", buf);
    unlink("/tmp/proc_spawn.out");
    posix_spawn_file_actions_destroy(&fa);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 5, "/nonexistent/file", O_RDONLY, 0);
    printf("spawn whose file action fails: %s\n", errname(posix_spawn(&p, "/bin/true", &fa, NULL, a2, environ)));
    posix_spawn_file_actions_destroy(&fa);

    // Attributes: mask, default signals, process group, session.
    signal(SIGUSR1, SIG_IGN);
    posix_spawnattr_t at;
    posix_spawnattr_init(&at);
    sigset_t m, d;
    sigemptyset(&m);
    sigaddset(&m, SIGUSR2);
    sigemptyset(&d);
    sigaddset(&d, SIGUSR1);
    posix_spawnattr_setsigmask(&at, &m);
    posix_spawnattr_setsigdefault(&at, &d);
    posix_spawnattr_setpgroup(&at, 0);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
    char *a4[] = {"sh", "-c", "grep -E '^(SigBlk|SigIgn)' /proc/self/status | sed 's/^/  /'; "
                              "[ \"$(cut -d' ' -f5 /proc/$$/stat)\" = $$ ] && echo '  own process group'", NULL};
    {
        int r_ = posix_spawn(&p, "/bin/sh", NULL, &at, a4, environ);
        spawn_and_reap("spawn with attributes", r_);
    }
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSID);
    char *a5[] = {"sh", "-c", "[ \"$(cut -d' ' -f6 /proc/$$/stat)\" = $$ ] && echo '  own session'", NULL};
    {
        int r_ = posix_spawn(&p, "/bin/sh", NULL, &at, a5, environ);
        spawn_and_reap("spawn with POSIX_SPAWN_SETSID", r_);
    }
    posix_spawnattr_destroy(&at);
    signal(SIGUSR1, SIG_DFL);

    int st = system("echo '  system() ran'; exit 7");
    printf("system status: %s\n", wstatus(st));
    FILE *f = popen("echo popen-line; echo second", "r");
    char line[64];
    while (fgets(line, sizeof line, f)) printf("popen read: %s", line);
    printf("pclose: %s\n", wstatus(pclose(f)));
    f = popen("wc -c | sed 's/^ *//; s/^/  wc got /'", "w");
    fputs("12345", f);
    printf("pclose (writer): %s\n", wstatus(pclose(f)));
    done();
}
