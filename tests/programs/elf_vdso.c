/* The vDSO: AT_SYSINFO_EHDR points at an ELF image mapped as [vdso], it exports
 * __vdso_clock_gettime / __vdso_gettimeofday / __vdso_time / __vdso_getcpu, and calling them
 * agrees with the syscalls. */
#include "moat_test.h"
#include <elf.h>
#include <link.h>
#include <sys/auxv.h>
#include <sys/syscall.h>

static void *sym(const ElfW(Ehdr) *eh, const char *name) {
    const ElfW(Phdr) *ph = (const void *)((const char *)eh + eh->e_phoff);
    unsigned long load = 0;
    const ElfW(Dyn) *dyn = NULL;
    for (int i = 0; i < eh->e_phnum; i++) {
        if (ph[i].p_type == PT_LOAD && load == 0) load = (unsigned long)eh + ph[i].p_offset - ph[i].p_vaddr;
        if (ph[i].p_type == PT_DYNAMIC) dyn = (const void *)((const char *)eh + ph[i].p_offset);
    }
    if (!dyn) return NULL;
    const ElfW(Sym) *symtab = NULL;
    const char *strtab = NULL;
    const Elf32_Word *hash = NULL;
    for (; dyn->d_tag != DT_NULL; dyn++) {
        if (dyn->d_tag == DT_SYMTAB) symtab = (const void *)(load + dyn->d_un.d_ptr);
        if (dyn->d_tag == DT_STRTAB) strtab = (const void *)(load + dyn->d_un.d_ptr);
        if (dyn->d_tag == DT_HASH) hash = (const void *)(load + dyn->d_un.d_ptr);
    }
    if (!symtab || !strtab || !hash) return NULL;
    for (Elf32_Word i = 0; i < hash[1]; i++)
        if (strcmp(strtab + symtab[i].st_name, name) == 0 && symtab[i].st_shndx != SHN_UNDEF)
            return (void *)(load + symtab[i].st_value);
    return NULL;
}

int main(void) {
    setup();
    const ElfW(Ehdr) *eh = (const void *)getauxval(AT_SYSINFO_EHDR);
    check("AT_SYSINFO_EHDR set", eh != NULL);
    if (!eh) done();
    check("it points at an ELF image", memcmp(eh->e_ident, ELFMAG, SELFMAG) == 0);
    FILE *f = fopen("/proc/self/maps", "r");
    char line[512];
    int inmaps = 0;
    while (f && fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 && (unsigned long)eh >= lo && (unsigned long)eh < hi &&
            strstr(line, "[vdso]"))
            inmaps = 1;
    }
    if (f) fclose(f);
    check("/proc/self/maps names it [vdso]", inmaps);
    int (*cg)(clockid_t, struct timespec *) = sym(eh, "__vdso_clock_gettime");
    int (*gtod)(struct timeval *, void *) = sym(eh, "__vdso_gettimeofday");
    time_t (*tm)(time_t *) = sym(eh, "__vdso_time");
    long (*gc)(unsigned *, unsigned *, void *) = sym(eh, "__vdso_getcpu");
    check("exports __vdso_clock_gettime, __vdso_gettimeofday, __vdso_time, __vdso_getcpu", cg && gtod && tm && gc);
    if (cg) {
        struct timespec a, b, c;
        syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &a);
        cg(CLOCK_MONOTONIC, &b);
        syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &c);
        long ta = a.tv_sec * 1000000000L + a.tv_nsec, tb = b.tv_sec * 1000000000L + b.tv_nsec,
             tc = c.tv_sec * 1000000000L + c.tv_nsec;
        check("vDSO CLOCK_MONOTONIC between two syscalls", ta <= tb && tb <= tc);
        struct timespec r1, r2;
        cg(CLOCK_REALTIME, &r1);
        syscall(SYS_clock_gettime, CLOCK_REALTIME, &r2);
        check("vDSO CLOCK_REALTIME agrees within 1s", labs(r1.tv_sec - r2.tv_sec) <= 1);
    }
    if (tm) check("vDSO time agrees within 1s", labs(tm(NULL) - syscall(SYS_time, NULL)) <= 1);
    if (gc) {
        unsigned cpu = 99999;
        gc(&cpu, NULL, NULL);
        check("vDSO getcpu gives a cpu number", cpu < 4096);
    }
    done();
}
