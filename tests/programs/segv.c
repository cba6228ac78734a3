/* segv.c - dies of a real SIGSEGV (a write through a null pointer, no raise()/kill()),
 * which the kernel forces even on a pid namespace's init. Exit status seen by the
 * caller: killed by signal 11, i.e. 139 from a shell or `moat run`. */
#include <stdio.h>

int main(void) {
    printf("about to fault\n");
    fflush(stdout);
    volatile int *p = (volatile int *)0;
    *p = 42;
    printf("not reached\n");
    return 0;
}
