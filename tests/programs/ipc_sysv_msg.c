/* System V message queues: msgget, msgsnd/msgrcv by type (0 = first, >0 = exact, <0 = lowest
 * up to |type|, MSG_EXCEPT), IPC_NOWAIT ENOMSG, E2BIG vs MSG_NOERROR truncation, a receiver
 * blocked in a child, msgctl IPC_STAT (qnum, lspid), IPC_RMID waking a blocked receiver with
 * EIDRM. */
#include "moat_test.h"
#include <sys/ipc.h>
#include <sys/msg.h>

struct m {
    long type;
    char text[32];
};

static void snd(int q, long type, const char *s) {
    struct m x = {type, {0}};
    strcpy(x.text, s);
    if (msgsnd(q, &x, strlen(s) + 1, 0) < 0) printf("msgsnd: %s\n", errname(errno));
}
static void rcv(const char *what, int q, long type, int flags) {
    struct m x = {0, {0}};
    ssize_t n = msgrcv(q, &x, sizeof x.text, type, flags);
    if (n < 0)
        printf("%s: %s\n", what, errname(errno));
    else
        printf("%s: type %ld '%s' (%zd)\n", what, x.type, x.text, n);
}

int main(void) {
    setup();
    int q = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
    rep("msgget", q);
    snd(q, 3, "three");
    snd(q, 1, "one");
    snd(q, 2, "two");
    snd(q, 1, "one again");
    struct msqid_ds ds;
    msgctl(q, IPC_STAT, &ds);
    printf("qnum=%lu lspid is us: %s\n", (unsigned long)ds.msg_qnum, ds.msg_lspid == getpid() ? "yes" : "no");
    rcv("type 0 (first)", q, 0, 0);
    rcv("type 2 (exact)", q, 2, 0);
    rcv("type -2 (lowest <= 2)", q, -2, 0);
    rcv("MSG_EXCEPT 1 with only type 1 left", q, 1, MSG_EXCEPT | IPC_NOWAIT);
    snd(q, 9, "nine");
    rcv("MSG_EXCEPT 1", q, 1, MSG_EXCEPT);
    rcv("type 0 with IPC_NOWAIT", q, 0, IPC_NOWAIT);
    rcv("empty with IPC_NOWAIT", q, 0, IPC_NOWAIT);
    snd(q, 5, "a long message here");
    struct m small;
    rep_err("too small without MSG_NOERROR", msgrcv(q, &small, 4, 0, IPC_NOWAIT));
    ssize_t n = msgrcv(q, &small, 4, 0, IPC_NOWAIT | MSG_NOERROR);
    printf("MSG_NOERROR truncates: %zd '%.4s'\n", n, small.text);
    rep_err("msgsnd type 0", msgsnd(q, &(struct m){0, "x"}, 2, 0));
    rep_err("msgsnd negative size", msgsnd(q, &(struct m){1, "x"}, (size_t)-1, 0));

    pid_t c = fork();
    if (c == 0) {
        struct m x;
        ssize_t r = msgrcv(q, &x, sizeof x.text, 7, 0);
        _exit(r > 0 && strcmp(x.text, "for the child") == 0 ? 0 : 1);
    }
    sleep_ms(100);
    snd(q, 6, "not this one");
    snd(q, 7, "for the child");
    reap("blocked receiver (0)", c);
    rcv("left in the queue", q, 0, IPC_NOWAIT);

    c = fork();
    if (c == 0) {
        struct m x;
        ssize_t r = msgrcv(q, &x, sizeof x.text, 0, 0);
        _exit(r < 0 && errno == EIDRM ? 0 : 1);
    }
    sleep_ms(100);
    rep("IPC_RMID", msgctl(q, IPC_RMID, NULL));
    reap("receiver gets EIDRM (0)", c);
    rep_err("msgsnd after IPC_RMID", msgsnd(q, &(struct m){1, "x"}, 2, 0));
    int k = msgget(0x4d534731, IPC_CREAT | IPC_EXCL | 0600);
    rep("msgget with a key", k);
    printf("lookup finds it: %s\n", msgget(0x4d534731, 0) == k ? "yes" : "no");
    rep_err("IPC_EXCL again", msgget(0x4d534731, IPC_CREAT | IPC_EXCL | 0600));
    msgctl(k, IPC_RMID, NULL);
    rep_err("missing key", msgget(0x4d534731, 0));
    done();
}
