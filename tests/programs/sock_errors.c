/* Socket calls with bad arguments, as the syscall conformance suites probe them: unknown
 * levels and option names on TCP, UDP and AF_UNIX sockets (ENOPROTOOPT, or EOPNOTSUPP for a
 * protocol level AF_UNIX has not got), a bad optval pointer (EFAULT), a negative optlen
 * (EINVAL), and socket calls on an O_PATH descriptor (EBADF), a regular file (ENOTSOCK) and
 * a closed fd (EBADF). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void show(const char *what, int r) {
    printf("%-40s %d %s\n", what, r, r < 0 ? strerrorname_np(errno) : "");
}

int main(void) {
    int one = 1;
    socklen_t len = sizeof one;
    int tcp = socket(AF_INET, SOCK_STREAM, 0);
    int udp = socket(AF_INET, SOCK_DGRAM, 0);
    int unx = socket(AF_UNIX, SOCK_STREAM, 0);
    show("tcp setsockopt TCP -1", setsockopt(tcp, IPPROTO_TCP, -1, &one, sizeof one));
    show("tcp setsockopt IP -1", setsockopt(tcp, IPPROTO_IP, -1, &one, sizeof one));
    show("udp setsockopt UDP 9999", setsockopt(udp, IPPROTO_UDP, 9999, &one, sizeof one));
    show("tcp setsockopt SOL_SOCKET 9999", setsockopt(tcp, SOL_SOCKET, 9999, &one, sizeof one));
    show("tcp getsockopt TCP -1", getsockopt(tcp, IPPROTO_TCP, -1, &one, &len));
    show("udp getsockopt SOL_SOCKET 9999", getsockopt(udp, SOL_SOCKET, 9999, &one, &len));
    show("unix setsockopt SOL_SOCKET 9999", setsockopt(unx, SOL_SOCKET, 9999, &one, sizeof one));
    show("unix setsockopt TCP NODELAY", setsockopt(unx, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one));
    show("unix getsockopt IP TTL", getsockopt(unx, IPPROTO_IP, IP_TTL, &one, &len));
    show("tcp setsockopt bad optval", setsockopt(tcp, SOL_SOCKET, SO_REUSEADDR, (void *)8, 4));
    show("tcp setsockopt optlen -1", setsockopt(tcp, SOL_SOCKET, SO_REUSEADDR, &one, (socklen_t)-1));
    show("tcp setsockopt NODELAY ok", setsockopt(tcp, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one));

    int path = open("/", O_PATH);
    int file = open("/proc/self/stat", O_RDONLY);
    int gone = dup(file);
    close(gone);
    struct sockaddr_in a = {.sin_family = AF_INET};
    int fds[] = {path, file, gone};
    const char *names[] = {"O_PATH", "file", "closed"};
    for (int i = 0; i < 3; i++) {
        char what[64];
        snprintf(what, sizeof what, "accept %s", names[i]);
        show(what, accept(fds[i], 0, 0));
        snprintf(what, sizeof what, "bind %s", names[i]);
        show(what, bind(fds[i], (struct sockaddr *)&a, sizeof a));
        snprintf(what, sizeof what, "listen %s", names[i]);
        show(what, listen(fds[i], 1));
        snprintf(what, sizeof what, "getsockopt %s", names[i]);
        show(what, getsockopt(fds[i], SOL_SOCKET, SO_TYPE, &one, &len));
        snprintf(what, sizeof what, "shutdown %s", names[i]);
        show(what, shutdown(fds[i], SHUT_RDWR));
        snprintf(what, sizeof what, "sendto %s", names[i]);
        show(what, (int)sendto(fds[i], "x", 1, 0, 0, 0));
    }
    printf("done: ok\n");
    return 0;
}
