// inotify on directories and files: create, modify, close, delete, moves with cookies,
// attribute changes, self events, IN_ONESHOT, rm_watch, blocking reads, epoll, errors.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void report(const char *what, long r) {
    int e = errno;
    printf("%s: %ld %s\n", what, r, r < 0 ? strerror(e) : "ok");
}

static const char *names[] = {"ACCESS", "MODIFY", "ATTRIB", "CLOSE_WRITE", "CLOSE_NOWRITE", "OPEN",
                              "MOVED_FROM", "MOVED_TO", "CREATE", "DELETE", "DELETE_SELF", "MOVE_SELF"};

static unsigned last_cookie;

static void show(const struct inotify_event *e, int wd_base) {
    printf("  wd=%d", e->wd - wd_base + 1);
    for (int i = 0; i < 12; i++)
        if (e->mask & (1u << i))
            printf(" %s", names[i]);
    if (e->mask & IN_ISDIR) printf(" ISDIR");
    if (e->mask & IN_IGNORED) printf(" IGNORED");
    if (e->mask & IN_Q_OVERFLOW) printf(" Q_OVERFLOW");
    if (e->cookie) {
        printf(" cookie=%s", e->cookie == last_cookie ? "same" : "new");
        last_cookie = e->cookie;
    }
    if (e->len) printf(" name=%s", e->name);
    printf("\n");
}

static int wd_base = 1;
static void drain(int in, const char *title) {
    char buf[4096] __attribute__((aligned(8)));
    printf("%s:\n", title);
    for (;;) {
        ssize_t n = read(in, buf, sizeof buf);
        if (n <= 0) break;
        for (char *p = buf; p < buf + n;) {
            struct inotify_event *e = (struct inotify_event *)p;
            show(e, wd_base);
            p += sizeof *e + e->len;
        }
    }
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    mkdir("/tmp/ev_inotify.d", 0755);
    mkdir("/tmp/ev_inotify.d/d", 0755);
    int in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    printf("init1: %s\n", in >= 0 ? "ok" : "fail");
    int wd = inotify_add_watch(in, "/tmp/ev_inotify.d", IN_CREATE | IN_DELETE | IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_FROM |
                                                   IN_MOVED_TO | IN_ATTRIB | IN_DELETE_SELF);
    wd_base = wd;
    printf("add_watch: %s\n", wd > 0 ? "ok" : "fail");
    printf("same inode again gives same wd: %s\n",
           inotify_add_watch(in, "/tmp/ev_inotify.d/.", IN_CREATE | IN_DELETE | IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_FROM |
                                                   IN_MOVED_TO | IN_ATTRIB | IN_DELETE_SELF) == wd ? "yes" : "no");
    drain(in, "nothing yet");

    int fd = open("/tmp/ev_inotify.d/a.txt", O_CREAT | O_WRONLY, 0644);
    write(fd, "one", 3);
    write(fd, "two", 3);
    close(fd);
    drain(in, "create, write x2, close");

    fd = open("/tmp/ev_inotify.d/a.txt", O_RDONLY);
    char b[8];
    read(fd, b, sizeof b);
    close(fd);
    drain(in, "read-only open/read/close (not watched)");

    chmod("/tmp/ev_inotify.d/a.txt", 0600);
    rename("/tmp/ev_inotify.d/a.txt", "/tmp/ev_inotify.d/b.txt");
    rename("/tmp/ev_inotify.d/b.txt", "/tmp/ev_inotify.d/d/c.txt");
    mkdir("/tmp/ev_inotify.d/sub", 0755);
    rmdir("/tmp/ev_inotify.d/sub");
    symlink("b.txt", "/tmp/ev_inotify.d/link");
    unlink("/tmp/ev_inotify.d/link");
    truncate("/tmp/ev_inotify.d/d/c.txt", 0);
    drain(in, "chmod, rename, move out, mkdir, rmdir, symlink, unlink, truncate elsewhere");

    int n;
    ioctl(in, FIONREAD, &n);
    printf("FIONREAD empty: %d\n", n);
    fd = open("/tmp/ev_inotify.d/x", O_CREAT | O_WRONLY, 0644);
    ioctl(in, FIONREAD, &n);
    printf("FIONREAD after create: %d\n", n);
    close(fd);
    char small[20];
    report("read into too small a buffer", read(in, small, sizeof small));
    drain(in, "create x");

    // A watch on a file: self events; IN_ONESHOT.
    int fw = inotify_add_watch(in, "/tmp/ev_inotify.d/x", IN_MODIFY | IN_ATTRIB | IN_DELETE_SELF | IN_ONESHOT);
    printf("file watch: %s\n", fw > wd ? "ok" : "fail");
    fd = open("/tmp/ev_inotify.d/x", O_WRONLY);
    write(fd, "z", 1);
    write(fd, "z", 1);
    close(fd);
    drain(in, "file watch, oneshot, two writes");
    fw = inotify_add_watch(in, "/tmp/ev_inotify.d/x", IN_DELETE_SELF | IN_ATTRIB);
    unlink("/tmp/ev_inotify.d/x");
    drain(in, "unlink watched file");

    // rm_watch.
    int dw = inotify_add_watch(in, "/tmp/ev_inotify.d/d", IN_ALL_EVENTS);
    report("rm_watch", inotify_rm_watch(in, dw));
    report("rm_watch again", inotify_rm_watch(in, dw));
    drain(in, "after rm_watch");

    // Blocking read woken by a child; poll and epoll readiness.
    int bl = inotify_init();
    inotify_add_watch(bl, "/tmp/ev_inotify.d/d", IN_CREATE);
    struct pollfd pf = {.fd = bl, .events = POLLIN};
    printf("poll idle: %d\n", poll(&pf, 1, 0));
    pid_t c = fork();
    if (c == 0) {
        usleep(20000);
        close(open("/tmp/ev_inotify.d/d/from-child", O_CREAT | O_WRONLY, 0644));
        _exit(0);
    }
    char buf[256] __attribute__((aligned(8)));
    ssize_t r = read(bl, buf, sizeof buf);
    struct inotify_event *e = (struct inotify_event *)buf;
    printf("blocking read: %s name=%s\n", r > 0 ? "ok" : "fail", r > 0 ? e->name : "");
    waitpid(c, NULL, 0);
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN}, out;
    epoll_ctl(ep, EPOLL_CTL_ADD, bl, &ev);
    printf("epoll idle: %d\n", epoll_wait(ep, &out, 1, 0));
    unlink("/tmp/ev_inotify.d/d/from-child");
    close(open("/tmp/ev_inotify.d/d/y", O_CREAT | O_WRONLY, 0644));
    printf("epoll after create: %d\n", epoll_wait(ep, &out, 1, 1000));

    // Removing the watched directory itself.
    unlink("/tmp/ev_inotify.d/d/y");
    unlink("/tmp/ev_inotify.d/d/c.txt");
    rmdir("/tmp/ev_inotify.d/d");
    drain(in, "directory events for d's removal");
    fcntl(bl, F_SETFL, O_NONBLOCK);
    r = read(bl, buf, sizeof buf);
    printf("d removed, watcher sees:");
    for (char *p = buf; r > 0 && p < buf + r;) {
        e = (struct inotify_event *)p;
        printf(" %#x", e->mask);
        p += sizeof *e + e->len;
    }
    printf("\n");

    report("watch missing path", inotify_add_watch(in, "/tmp/ev_inotify.d/nope", IN_CREATE));
    report("watch with no events", inotify_add_watch(in, "/tmp/ev_inotify.d", 0));
    report("ONLYDIR on file", inotify_add_watch(in, "/etc/passwd", IN_MODIFY | IN_ONLYDIR));
    report("MASK_ADD|MASK_CREATE", inotify_add_watch(in, "/tmp", IN_MODIFY | IN_MASK_ADD | IN_MASK_CREATE));
    report("MASK_CREATE on watched", inotify_add_watch(in, "/tmp/ev_inotify.d", IN_MODIFY | IN_MASK_CREATE));
    report("add_watch on non-inotify", inotify_add_watch(0, "/tmp", IN_MODIFY));
    report("init1 bad flags", inotify_init1(1));
    rmdir("/tmp/ev_inotify.d");
    drain(in, "watched directory removed");
    printf("done: ok\n");
    return 0;
}
