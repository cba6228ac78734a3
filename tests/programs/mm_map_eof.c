/* A shared file mapping longer than the file: the partial last page reads zeros past EOF,
 * a page wholly past EOF raises SIGBUS (BUS_ADRERR, exact si_addr), and it becomes
 * accessible once ftruncate grows the file; shrinking the file takes pages away again. */
#include "moat_test.h"
#include <fcntl.h>
#include <sys/mman.h>

#define PG 4096

int main(void) {
    setup();
    char path[] = "/tmp/mm_map_eof.file";
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    ftruncate(fd, PG + 100);
    char *big = mmap(NULL, 3 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    big[PG + 50] = 'x';
    printf("byte past EOF in the last page: %d\n", big[PG + 200]);
    probe("page past EOF", big + 2 * PG + 8, 0);
    probe("write to page past EOF", big + 2 * PG + 8, 1);
    ftruncate(fd, 3 * PG);
    probe("same page after ftruncate grew the file", big + 2 * PG + 8, 0);
    printf("grown page is zero: %s\n", big[2 * PG + 8] == 0 ? "yes" : "no");
    ftruncate(fd, PG);
    probe("second page after ftruncate shrank the file", big + PG + 50, 0);
    char *priv = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    probe("private mapping past EOF", priv + PG + 1, 0);
    pid_t p = fork();
    if (p == 0) {
        big[2 * PG] = 1; /* no handler: the default action kills */
        _exit(0);
    }
    reap("child touching a page past EOF", p);
    unlink(path);
    done();
}
