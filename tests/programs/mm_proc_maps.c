/* /proc/self/maps tells the truth: sorted, non-overlapping lines; the stack, heap and
 * executable; anonymous mappings with exact ranges and permissions; mprotect splits and
 * munmap removes; a child's maps are its own. File mappings: mm_proc_maps_file.c. */
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
    load();
    int sorted = 1;
    for (int i = 1; i < ne; i++)
        if (e[i].lo < e[i - 1].hi || e[i].lo >= e[i].hi) sorted = 0;
    check("lines sorted and disjoint", ne > 3 && sorted);
    int local;
    struct ent *s = find((unsigned long)&local);
    printf("local variable in: %s\n", s ? s->path : "(nothing)");
    free(malloc(100));
    load();
    struct ent *h = find((unsigned long)sbrk(0) - 1);
    printf("sbrk(0)-1 in: %s\n", h ? h->path : "(nothing)");
    struct ent *t = find((unsigned long)main);
    printf("main in: %s %s\n", t ? t->perm : "-", t ? t->path : "(nothing)");

    // Guarded anonymous region: PROT_NONE around a 3-page RW hole (no merging with neighbours).
    char *g = mmap(NULL, 5 * PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    mprotect(g + PG, 3 * PG, PROT_READ | PROT_WRITE);
    unsigned long b = (unsigned long)g;
    load();
    show("guard", b, b);
    show("rw", b + PG, b);
    show("guard2", b + 4 * PG, b);
    mprotect(g + 2 * PG, PG, PROT_READ);
    load();
    show("split 1", b + PG, b);
    show("split 2", b + 2 * PG, b);
    show("split 3", b + 3 * PG, b);
    munmap(g + 2 * PG, PG);
    load();
    show("after munmap", b + 2 * PG, b);
    show("left part", b + PG, b);

    // A child's maps are its own: it sees its new mapping, the parent does not.
    pid_t p = fork();
    if (p == 0) {
        char *cm = mmap(NULL, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        load();
        _exit(find((unsigned long)cm) ? 0 : 1);
    }
    reap("child sees its own mapping", p);
    done();
}
