/* The auxiliary vector: every entry glibc reads (but AT_SYSINFO_EHDR: elf_vdso.c) is there with a sane value, agrees with the
 * executable and the credentials, and /proc/self/auxv matches what the process got. */
#include "moat_test.h"
#include <elf.h>
#include <link.h>
#include <signal.h>
#include <sys/auxv.h>

extern const ElfW(Ehdr) __ehdr_start;

static unsigned long aux[64];
static int present[64];

static void cpuid(unsigned leaf, unsigned *a, unsigned *b, unsigned *c, unsigned *d) {
    __asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(0));
}

int main(int argc, char **argv, char **envp) {
    (void)argc;
    setup();
    char **e = envp;
    while (*e) e++;
    int total = 0;
    for (ElfW(auxv_t) *a = (ElfW(auxv_t) *)(e + 1); a->a_type != AT_NULL; a++) {
        total++;
        if (a->a_type < 64) {
            aux[a->a_type] = a->a_un.a_val;
            present[a->a_type] = 1;
        }
    }
    static const struct { int t; const char *n; } want[] = {
        {AT_MINSIGSTKSZ, "AT_MINSIGSTKSZ"}, {AT_HWCAP, "AT_HWCAP"},
        {AT_PAGESZ, "AT_PAGESZ"}, {AT_CLKTCK, "AT_CLKTCK"}, {AT_PHDR, "AT_PHDR"}, {AT_PHENT, "AT_PHENT"},
        {AT_PHNUM, "AT_PHNUM"}, {AT_BASE, "AT_BASE"}, {AT_FLAGS, "AT_FLAGS"}, {AT_ENTRY, "AT_ENTRY"},
        {AT_UID, "AT_UID"}, {AT_EUID, "AT_EUID"}, {AT_GID, "AT_GID"}, {AT_EGID, "AT_EGID"},
        {AT_SECURE, "AT_SECURE"}, {AT_RANDOM, "AT_RANDOM"}, {AT_HWCAP2, "AT_HWCAP2"},
        {AT_EXECFN, "AT_EXECFN"}, {AT_PLATFORM, "AT_PLATFORM"},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        printf("%s present: %s\n", want[i].n, present[want[i].t] ? "yes" : "no");
    printf("AT_PAGESZ: %lu\n", aux[AT_PAGESZ]);
    printf("AT_CLKTCK: %lu\n", aux[AT_CLKTCK]);
    printf("AT_PHENT == sizeof(Phdr): %s\n", aux[AT_PHENT] == sizeof(ElfW(Phdr)) ? "yes" : "no");
    check("AT_PHDR == ehdr + e_phoff", aux[AT_PHDR] == (unsigned long)&__ehdr_start + __ehdr_start.e_phoff);
    check("AT_PHNUM == e_phnum", aux[AT_PHNUM] == __ehdr_start.e_phnum);
    check("AT_ENTRY == e_entry", aux[AT_ENTRY] == __ehdr_start.e_entry);
    printf("AT_BASE (static): %lu\n", aux[AT_BASE]);
    printf("AT_FLAGS: %lu\n", aux[AT_FLAGS]);
    check("AT_UID/EUID/GID/EGID match the credentials",
          aux[AT_UID] == getuid() && aux[AT_EUID] == geteuid() && aux[AT_GID] == getgid() && aux[AT_EGID] == getegid());
    printf("AT_SECURE: %lu\n", aux[AT_SECURE]);
    const unsigned char *r = (const unsigned char *)aux[AT_RANDOM];
    int nz = 0;
    for (int i = 0; r && i < 16; i++) nz |= r[i];
    check("AT_RANDOM: 16 readable bytes, not all zero", r && nz);
    unsigned a, b, c, d;
    cpuid(1, &a, &b, &c, &d);
    check("AT_HWCAP == cpuid(1).edx", aux[AT_HWCAP] == d);
    printf("AT_EXECFN: %s\n", aux[AT_EXECFN] ? (const char *)aux[AT_EXECFN] : "(null)");
    check("AT_EXECFN == argv[0]", aux[AT_EXECFN] && strcmp((const char *)aux[AT_EXECFN], argv[0]) == 0);
    printf("AT_PLATFORM: %s\n", aux[AT_PLATFORM] ? (const char *)aux[AT_PLATFORM] : "(null)");
    check("AT_MINSIGSTKSZ in [1024, 65536]", aux[AT_MINSIGSTKSZ] >= 1024 && aux[AT_MINSIGSTKSZ] <= 65536);
    check("sysconf(_SC_MINSIGSTKSZ) >= AT_MINSIGSTKSZ", (unsigned long)sysconf(_SC_MINSIGSTKSZ) >= aux[AT_MINSIGSTKSZ]);
    check("sysconf(_SC_SIGSTKSZ) >= MINSIGSTKSZ", sysconf(_SC_SIGSTKSZ) >= sysconf(_SC_MINSIGSTKSZ));
    check("getauxval agrees", getauxval(AT_PAGESZ) == aux[AT_PAGESZ] && getauxval(AT_RANDOM) == aux[AT_RANDOM]);
    errno = 0;
    check("getauxval(unknown) = 0, ENOENT", getauxval(63) == 0 && errno == ENOENT);
    check("sysconf(_SC_PAGESIZE) == AT_PAGESZ", (unsigned long)sysconf(_SC_PAGESIZE) == aux[AT_PAGESZ]);
    check("sysconf(_SC_CLK_TCK) == AT_CLKTCK", (unsigned long)sysconf(_SC_CLK_TCK) == aux[AT_CLKTCK]);

    FILE *f = fopen("/proc/self/auxv", "r");
    ElfW(auxv_t) pa;
    int n = 0, mismatch = 0, ended = 0;
    while (f && fread(&pa, sizeof pa, 1, f) == 1) {
        if (pa.a_type == AT_NULL) {
            ended = 1;
            break;
        }
        n++;
        if (pa.a_type < 64 && (!present[pa.a_type] || aux[pa.a_type] != pa.a_un.a_val)) mismatch++;
    }
    if (f) fclose(f);
    check("/proc/self/auxv ends with AT_NULL", ended);
    check("/proc/self/auxv has the same entries", n == total && mismatch == 0);
    done();
}
