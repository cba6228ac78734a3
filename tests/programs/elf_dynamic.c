// moat-build: dynamic
/* A dynamically linked PIE: the kernel (or the sentry) loads ld.so from PT_INTERP, which
 * maps libc.so.6 and relocates everything; dlopen/dlsym at run time, TLS in threads of a
 * dynamic program, /proc/self/maps naming the shared objects. */
#include "moat_test.h"
#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <pthread.h>
#include <sys/auxv.h>

static int seen_libc, seen_ld, objects;
static int cb(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size; (void)data;
    objects++;
    const char *n = info->dlpi_name ? info->dlpi_name : "";
    if (strstr(n, "libc.so.6")) seen_libc = 1;
    if (strstr(n, "ld-linux-x86-64.so.2")) seen_ld = 1;
    return 0;
}

static __thread int tls = 11;
static void *thr(void *a) {
    tls += (int)(long)a;
    return (void *)(long)tls;
}

int main(void) {
    setup();
    check("AT_BASE set (an interpreter was loaded)", getauxval(AT_BASE) != 0);
    const ElfW(Phdr) *ph = (const ElfW(Phdr) *)getauxval(AT_PHDR);
    unsigned long n = getauxval(AT_PHNUM), bias = 0;
    const char *interp = NULL;
    for (unsigned long i = 0; i < n; i++)
        if (ph[i].p_type == PT_PHDR) bias = (unsigned long)ph - ph[i].p_vaddr;
    for (unsigned long i = 0; i < n; i++)
        if (ph[i].p_type == PT_INTERP) interp = (const char *)(bias + ph[i].p_vaddr);
    printf("PT_INTERP: %s\n", interp ? interp : "(none)");
    check("PIE load bias nonzero and page aligned", bias != 0 && bias % 4096 == 0);
    check("AT_ENTRY inside the executable", getauxval(AT_ENTRY) > bias);
    dl_iterate_phdr(cb, NULL);
    check("dl_iterate_phdr sees libc.so.6", seen_libc);
    check("dl_iterate_phdr sees ld-linux-x86-64.so.2", seen_ld);
    check("at least 3 objects", objects >= 3);

    void *h = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
    check("dlopen(libc.so.6, RTLD_NOLOAD)", h != NULL);
    check("dlsym(strlen) is strlen", h && dlsym(h, "getpid") == (void *)getpid);
    void *bad = dlopen("libdoes-not-exist.so.9", RTLD_NOW);
    const char *err = dlerror();
    check("dlopen of a missing library fails", bad == NULL && err && strstr(err, "cannot open shared object file"));
    Dl_info di;
    check("dladdr(printf) names libc.so.6", dladdr((void *)printf, &di) && strstr(di.dli_fname, "libc.so.6"));

    pthread_t t[4];
    for (long i = 0; i < 4; i++) pthread_create(&t[i], NULL, thr, (void *)i);
    long sum = 0;
    for (int i = 0; i < 4; i++) {
        void *r;
        pthread_join(t[i], &r);
        sum += (long)r;
    }
    printf("thread TLS results sum: %ld, main tls: %d\n", sum, tls);

    FILE *m = fopen("/proc/self/maps", "r");
    char line[512];
    int libc_x = 0, ld_x = 0, exe_x = 0;
    while (m && fgets(line, sizeof line, m)) {
        int x = strstr(line, " r-xp ") != NULL;
        if (x && strstr(line, "/libc.so.6")) libc_x = 1;
        if (x && strstr(line, "/ld-linux-x86-64.so.2")) ld_x = 1;
        if (x && strstr(line, "/opt/moat-tests/elf_dynamic")) exe_x = 1;
    }
    if (m) fclose(m);
    check("maps: libc.so.6 text", libc_x);
    check("maps: ld-linux text", ld_x);
    check("maps: executable text", exe_x);
    char exe[256] = {0};
    readlink("/proc/self/exe", exe, sizeof exe - 1);
    printf("exe: %s\n", exe);
    errno = 0;
    close(-1);
    printf("errno is per-thread TLS: %s\n", errname(errno));
    printf("printf float: %.3f\n", 3.14159);
    done();
}
