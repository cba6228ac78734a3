/* Copied from the project's shared OCI runtime benchmark harness (shared/bench); keep in sync with it. */
/* nop: the smallest static executable we can make: exit(0) via raw syscall.
 * Built with: gcc -O2 -static -nostdlib -fno-stack-protector -o nop nop.c
 * Used as the exec target of micro/fork_exec.c. */
void _start(void)
{
    __asm__ volatile("mov $60, %eax\n\txor %edi, %edi\n\tsyscall\n");
    for (;;) {
    }
}
