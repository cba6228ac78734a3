/* #! scripts: the interpreter gets (interpreter, optional argument, script path, args);
 * whitespace rules; scripts whose interpreter is itself a script; AT_EXECFN and
 * /proc/self/exe of the interpreter; errors (missing interpreter, no permission, garbage,
 * directories). Run with -x as the interpreter of its own test scripts. */
#include "moat_test.h"
#include <fcntl.h>
#include <sys/auxv.h>

static char dir[64];

static void put(const char *name, const char *content, mode_t mode) {
    char p[128];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, mode);
    if (write(fd, content, strlen(content)) < 0) printf("write %s failed\n", name);
    close(fd);
    chmod(p, mode);
}

/* fork + execve the script; the child's output is part of ours. */
static void run(const char *name, const char *arg) {
    char p[128];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    pid_t pid = fork();
    if (pid == 0) {
        char *argv[] = {p, (char *)arg, NULL};
        char *envp[] = {"PATH=/bin", NULL};
        execve(p, argv, envp);
        printf("exec %s: %s\n", name, errname(errno));
        _exit(127);
    }
    char what[64];
    snprintf(what, sizeof what, "%s status", name);
    reap(what, pid);
}

int main(int argc, char **argv) {
    setup();
    if (argc > 1 && strncmp(argv[1], "-x", 2) == 0) {
        printf("  interpreter argc=%d:", argc);
        for (int i = 0; i < argc; i++) printf(" [%s]", argv[i]);
        printf("\n");
        char exe[256] = {0};
        if (readlink("/proc/self/exe", exe, sizeof exe - 1) < 0) strcpy(exe, errname(errno));
        printf("  interpreter exe: %s\n", exe);
        printf("  interpreter AT_EXECFN: %s\n", (const char *)getauxval(AT_EXECFN));
        return 3;
    }
    scratch("elf_script", dir, sizeof dir);
    put("s1", "#!/bin/sh\necho \"  s1: \\$0=$0 \\$1=$1\"\nexit 4\n", 0755);
    run("s1", "a1");
    put("s2", "#!/opt/moat-tests/elf_script -x\nignored\n", 0755);
    run("s2", "arg");
    put("s3", "#!   /opt/moat-tests/elf_script    -x   y  \n", 0755);
    run("s3", "z");
    put("s4", "#!/tmp/elf_script.d/s2\n", 0755);
    run("s4", "nested");
    put("s5", "#!/tmp/elf_script.d/s4 q\n", 0755);
    run("s5", "twice-nested");
    put("s6", "#!/bin/sh", 0755);
    run("s6", NULL);
    put("s7", "#!/nonexistent/interp\n", 0755);
    run("s7", NULL);
    put("s8", "#!/bin/sh\necho not run\n", 0644);
    run("s8", NULL);
    put("s9", "hello, I am not a program\n", 0755);
    run("s9", NULL);
    put("s10", "#!\n", 0755);
    run("s10", NULL);
    put("s11", "#!/tmp\n", 0755);
    run("s11", NULL);
    put("s12", "#!/opt/moat-tests/elf_script\t-x\n", 0755);
    run("s12", NULL);
    char d[80];
    snprintf(d, sizeof d, "%s/subdir", dir);
    mkdir(d, 0755);
    run("subdir", NULL);
    scratch_done(dir);
    done();
}
