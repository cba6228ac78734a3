/* /proc/self/maps tells the truth: sorted, non-overlapping lines; the stack, heap and
 * executable ... (mm_proc_maps.c); here file mappings: offset, inode and device columns, the
 * path, and the " (deleted)" mark once the file is unlinked. */
#include "moat_test.h"
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/sysmacros.h>

#define PG 4096

struct ent { unsigned long lo, hi, off, ino; char perm[8]; unsigned maj, min; char path[256]; };
static struct ent e[512];
static int ne;

static void load(void) {
    FILE *f = fopen("/proc/self/maps", "r");
    char line[512];
    ne = 0;
    while (f && fgets(line, sizeof line, f) && ne < 512) {
        struct ent *x = &e[ne];
        int pos = 0;
        x->path[0] = 0;
        if (sscanf(line, "%lx-%lx %7s %lx %x:%x %lu %n", &x->lo, &x->hi, x->perm, &x->off, &x->maj, &x->min, &x->ino, &pos) < 7)
            continue;
        char *pp = line + pos;
        pp[strcspn(pp, "\n")] = 0;
        snprintf(x->path, sizeof x->path, "%s", pp);
        ne++;
    }
    if (f) fclose(f);
}
static struct ent *find(unsigned long a) {
    for (int i = 0; i < ne; i++)
        if (a >= e[i].lo && a < e[i].hi) return &e[i];
    return NULL;
}
static void show(const char *what, unsigned long a, unsigned long base) {
    struct ent *x = find(a);
    if (!x) {
        printf("%s: no line\n", what);
        return;
    }
    printf("%s: [+%ld,+%ld) %s off=%lx ino0=%s path=%s\n", what, (long)(x->lo - base), (long)(x->hi - base), x->perm,
           x->off, x->ino == 0 ? "yes" : "no", x->path);
}

int main(void) {
    setup();
    // File mapping: offset, inode, device, path; then the file is deleted.
    char path[] = "/tmp/mm_proc_maps.file";
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    ftruncate(fd, 4 * PG);
    char *fm = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 2 * PG);
    char *fp = mmap(NULL, PG, PROT_READ, MAP_PRIVATE, fd, PG);
    struct stat st;
    fstat(fd, &st);
    load();
    show("file shared", (unsigned long)fm, (unsigned long)fm);
    show("file private", (unsigned long)fp, (unsigned long)fp);
    struct ent *x = find((unsigned long)fm);
    check("inode matches fstat", x && x->ino == st.st_ino);
    check("device matches fstat", x && makedev(x->maj, x->min) == st.st_dev);
    unlink(path);
    load();
    show("after unlink", (unsigned long)fm, (unsigned long)fm);
    close(fd);
    munmap(fm, 2 * PG);
    load();
    check("unmapped file mapping gone", find((unsigned long)fm) == NULL || strstr(find((unsigned long)fm)->path, "mm_proc_maps.file") == NULL);

    done();
}
