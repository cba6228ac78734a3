/* Interface queries the sandbox answers from its network namespace: getifaddrs and
 * if_nameindex (route netlink), SIOCGIFCONF/SIOCGIFFLAGS/SIOCGIFADDR/SIOCGIFINDEX ioctls.
 * Only the loopback interface is looked at (the host's others differ). Ends with "done: ok". */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

static int failures;

static void check(int ok, const char *what) {
    printf("%s: %s\n", what, ok ? "ok" : "FAIL");
    if (!ok) {
        failures++;
        fprintf(stderr, "FAIL %s (errno %d %s)\n", what, errno, strerror(errno));
    }
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    struct ifaddrs *ifa = NULL;
    check(getifaddrs(&ifa) == 0, "getifaddrs");
    int lo4 = 0, lo_up = 0;
    for (struct ifaddrs *i = ifa; i; i = i->ifa_next) {
        if (strcmp(i->ifa_name, "lo") != 0)
            continue;
        lo_up |= (i->ifa_flags & IFF_UP) && (i->ifa_flags & IFF_LOOPBACK);
        if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET &&
            ((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr == htonl(INADDR_LOOPBACK))
            lo4 = 1;
    }
    if (ifa)
        freeifaddrs(ifa);
    check(lo4, "getifaddrs: lo has 127.0.0.1");
    check(lo_up, "getifaddrs: lo is up and loopback");
    unsigned idx = if_nametoindex("lo");
    check(idx > 0, "if_nametoindex(lo)");
    struct if_nameindex *ni = if_nameindex();
    int found = 0;
    for (struct if_nameindex *p = ni; p && p->if_index; p++)
        found |= strcmp(p->if_name, "lo") == 0 && p->if_index == idx;
    if (ni)
        if_freenameindex(ni);
    check(found, "if_nameindex lists lo");
    char name[IF_NAMESIZE] = {0};
    check(if_indextoname(idx, name) && strcmp(name, "lo") == 0, "if_indextoname");

    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    strcpy(ifr.ifr_name, "lo");
    check(ioctl(s, SIOCGIFFLAGS, &ifr) == 0 && (ifr.ifr_flags & IFF_UP) && (ifr.ifr_flags & IFF_LOOPBACK),
          "SIOCGIFFLAGS lo");
    memset(&ifr, 0, sizeof ifr);
    strcpy(ifr.ifr_name, "lo");
    check(ioctl(s, SIOCGIFADDR, &ifr) == 0 &&
              ((struct sockaddr_in *)&ifr.ifr_addr)->sin_addr.s_addr == htonl(INADDR_LOOPBACK),
          "SIOCGIFADDR lo");
    memset(&ifr, 0, sizeof ifr);
    strcpy(ifr.ifr_name, "lo");
    check(ioctl(s, SIOCGIFINDEX, &ifr) == 0 && ifr.ifr_ifindex == (int)idx, "SIOCGIFINDEX lo");
    struct ifreq reqs[32];
    struct ifconf ifc = {.ifc_len = sizeof reqs, .ifc_req = reqs};
    found = 0;
    if (ioctl(s, SIOCGIFCONF, &ifc) == 0)
        for (size_t i = 0; i < ifc.ifc_len / sizeof(struct ifreq); i++)
            found |= strcmp(reqs[i].ifr_name, "lo") == 0;
    check(found, "SIOCGIFCONF lists lo");
    struct ifconf size = {.ifc_len = 0, .ifc_req = NULL};
    check(ioctl(s, SIOCGIFCONF, &size) == 0 && size.ifc_len > 0 && size.ifc_len % sizeof(struct ifreq) == 0,
          "SIOCGIFCONF size query");
    memset(&ifr, 0, sizeof ifr);
    strcpy(ifr.ifr_name, "no-such-if0");
    errno = 0;
    check(ioctl(s, SIOCGIFFLAGS, &ifr) == -1 && errno == ENODEV, "unknown interface ENODEV");
    close(s);
    printf("done: %s\n", failures ? "FAIL" : "ok");
    return failures != 0;
}
