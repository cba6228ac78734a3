/* Extended attributes in the user namespace on a rootfs file: setxattr (XATTR_CREATE/
 * XATTR_REPLACE), getxattr (size query, ERANGE, ENODATA), listxattr, removexattr, the l* and f*
 * variants, on a symlink (user.* not permitted), unknown namespaces. */
#include "moat_test.h"
#include <fcntl.h>
#include <sys/xattr.h>

static int cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void list(const char *path) {
    char buf[512];
    ssize_t n = listxattr(path, buf, sizeof buf);
    if (n < 0) {
        printf("  listxattr: %s\n", errname(errno));
        return;
    }
    char *names[32];
    int k = 0;
    for (char *p = buf; p < buf + n && k < 32; p += strlen(p) + 1)
        if (strncmp(p, "user.", 5) == 0) names[k++] = p; /* ignore security.* the host may add */
    qsort(names, k, sizeof names[0], cmp);
    printf("  user xattrs:");
    for (int i = 0; i < k; i++) printf(" %s", names[i]);
    printf("\n");
}

int main(void) {
    setup();
    char dir[64], f[128], l[128];
    scratch("fs_xattr", dir, sizeof dir);
    snprintf(f, sizeof f, "%s/file", dir);
    snprintf(l, sizeof l, "%s/link", dir);
    close(open(f, O_CREAT | O_WRONLY, 0644));
    symlink("file", l);
    rep("setxattr user.a", setxattr(f, "user.a", "alpha", 5, 0));
    rep("setxattr user.b XATTR_CREATE", setxattr(f, "user.b", "beta", 4, XATTR_CREATE));
    rep_err("XATTR_CREATE on an existing name", setxattr(f, "user.b", "x", 1, XATTR_CREATE));
    rep_err("XATTR_REPLACE on a missing name", setxattr(f, "user.c", "x", 1, XATTR_REPLACE));
    rep("XATTR_REPLACE", setxattr(f, "user.b", "BETA!", 5, XATTR_REPLACE));
    rep("empty value", setxattr(f, "user.empty", "", 0, 0));
    char v[64] = {0};
    printf("getxattr size query: %zd\n", getxattr(f, "user.b", NULL, 0));
    ssize_t n = getxattr(f, "user.b", v, sizeof v);
    printf("getxattr: %zd %.*s\n", n, (int)(n > 0 ? n : 0), v);
    rep_err("getxattr into a short buffer", getxattr(f, "user.b", v, 2));
    rep_err("getxattr missing", getxattr(f, "user.zzz", v, sizeof v));
    printf("getxattr empty value: %zd\n", getxattr(f, "user.empty", v, sizeof v));
    list(f);
    rep_err("listxattr into a short buffer", listxattr(f, v, 3));
    check("listxattr size query >= names", listxattr(f, NULL, 0) >= (ssize_t)strlen("user.a user.b user.empty "));
    printf("getxattr through the symlink: %zd\n", getxattr(l, "user.a", v, sizeof v));
    rep_err("lsetxattr user.* on a symlink", lsetxattr(l, "user.x", "1", 1, 0));
    rep_err("lgetxattr user.a on the symlink itself", lgetxattr(l, "user.a", v, sizeof v));
    int fd = open(f, O_RDONLY);
    rep("fsetxattr", fsetxattr(fd, "user.viafd", "fd", 2, 0));
    printf("fgetxattr: %zd\n", fgetxattr(fd, "user.viafd", v, sizeof v));
    char lb[256];
    printf("flistxattr >= 0: %s\n", flistxattr(fd, lb, sizeof lb) >= 0 ? "yes" : "no");
    rep("removexattr", removexattr(f, "user.a"));
    rep_err("removexattr again", removexattr(f, "user.a"));
    rep("fremovexattr", fremovexattr(fd, "user.viafd"));
    list(f);
    rep_err("unknown namespace", setxattr(f, "bogus.x", "1", 1, 0));
    rep_err("name without namespace", setxattr(f, "noprefix", "1", 1, 0));
    rep_err("empty name", setxattr(f, "", "1", 1, 0));
    rep_err("setxattr on a missing file", setxattr("/tmp/fs_xattr.d/none", "user.a", "1", 1, 0));
    rep_err("bad flags", setxattr(f, "user.q", "1", 1, 4));
    char big[70000];
    memset(big, 'v', sizeof big);
    rep_err("value larger than 64 KiB", setxattr(f, "user.big", big, sizeof big, 0));
    close(fd);
    scratch_done(dir);
    done();
}
