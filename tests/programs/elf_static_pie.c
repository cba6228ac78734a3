// moat-build: static-pie
/* A static PIE: no interpreter, loaded at a random base, relocates itself (self-relative
 * relocations of a pointer table), TLS and threads. */
#include "moat_test.h"
#include <elf.h>
#include <link.h>
#include <pthread.h>
#include <sys/auxv.h>

static const char *table[] = {"zero", "one", "two", "three"};
static __thread long tls = 5;
static void *thr(void *a) {
    tls *= (long)a;
    return (void *)tls;
}
extern const ElfW(Ehdr) __ehdr_start;

int main(void) {
    setup();
    printf("AT_BASE: %#lx\n", getauxval(AT_BASE));
    unsigned long base = (unsigned long)&__ehdr_start;
    check("loaded at a nonzero page-aligned base", base != 0 && base % 4096 == 0);
    printf("ELF type: %s\n", __ehdr_start.e_type == ET_DYN ? "ET_DYN" : "other");
    check("AT_ENTRY == base + e_entry", getauxval(AT_ENTRY) == base + __ehdr_start.e_entry);
    check("AT_PHDR == base + e_phoff", getauxval(AT_PHDR) == base + __ehdr_start.e_phoff);
    const ElfW(Phdr) *ph = (const ElfW(Phdr) *)getauxval(AT_PHDR);
    int interp = 0;
    for (unsigned long i = 0; i < getauxval(AT_PHNUM); i++)
        if (ph[i].p_type == PT_INTERP) interp = 1;
    check("has PT_INTERP", interp);
    printf("relocated table: %s %s %s %s\n", table[0], table[1], table[2], table[3]);
    pthread_t t[3];
    long sum = 0;
    for (long i = 0; i < 3; i++) pthread_create(&t[i], NULL, thr, (void *)(i + 2));
    for (int i = 0; i < 3; i++) {
        void *r;
        pthread_join(t[i], &r);
        sum += (long)r;
    }
    printf("TLS sum: %ld main: %ld\n", sum, tls);
    FILE *m = fopen("/proc/self/maps", "r");
    char line[512];
    int found = 0;
    while (m && fgets(line, sizeof line, m)) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 && (unsigned long)main >= lo && (unsigned long)main < hi &&
            strstr(line, "r-xp") && strstr(line, "/opt/moat-tests/elf_static_pie"))
            found = 1;
    }
    if (m) fclose(m);
    check("maps: main lies in the executable's r-xp mapping", found);
    done();
}
