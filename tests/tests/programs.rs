//! Static C test programs (tests/programs/*.c, in the rootfs at /opt/moat-tests) that print
//! deterministic lines: their output and exit status natively (chroot) and under moat must
//! be equal.

use moat_tests::{require_root, run_native, TestEnv};

fn compare_program(args: &[&str]) {
    require_root!();
    let env = TestEnv::new(args[0].rsplit('/').next().unwrap());
    let root = env.rootfs_copy("native-rootfs");
    let native = run_native(&root, args, env.timeout);
    assert!(
        native.success() && native.stdout.ends_with("done: ok\n"),
        "{args:?} fails natively (a broken test): {}",
        native.describe()
    );
    let b = env.bundle("bundle", args);
    let (_, moat) = env.run_bundle(&b);
    let diff: Vec<String> = native
        .stdout
        .lines()
        .zip(moat.stdout.lines().chain(std::iter::repeat("<missing>")))
        .filter(|(a, b)| a != b)
        .map(|(a, b)| format!("  native: {a}\n  moat:   {b}"))
        .collect();
    assert!(
        moat.code == native.code && moat.stdout == native.stdout,
        "{args:?}: moat differs from native\n{}\n--- moat: {}",
        diff.join("\n"),
        moat.describe()
    );
}

/// fork/vfork/execve/wait4, pipes and fds, files, getdents64, signals, memory, clocks.
#[test]
fn syscalls_program() {
    compare_program(&["/opt/moat-tests/syscalls"]);
}

/// AF_UNIX stream: socketpair, path/abstract/autobind names, listen/accept, EOF, EPIPE, SO_PEERCRED.
#[test]
fn net_unix_stream_program() {
    compare_program(&["/opt/moat-tests/net_unix_stream"]);
}

/// AF_UNIX datagram and seqpacket: names, truncation, connect rules, queue limits, EOF.
#[test]
fn net_unix_dgram_program() {
    compare_program(&["/opt/moat-tests/net_unix_dgram"]);
}

/// SCM_RIGHTS and SCM_CREDENTIALS across processes, MSG_CTRUNC, MSG_CMSG_CLOEXEC.
#[test]
fn net_scm_program() {
    compare_program(&["/opt/moat-tests/net_scm"]);
}

/// TCP over loopback (host sockets owned by the sentry): echo, options, 4 MiB, RST, IPv6.
#[test]
fn net_tcp_program() {
    compare_program(&["/opt/moat-tests/net_tcp"]);
}

/// UDP over loopback: names, MSG_PEEK/MSG_TRUNC, sendmmsg/recvmmsg, IP_PKTINFO.
#[test]
fn net_udp_program() {
    compare_program(&["/opt/moat-tests/net_udp"]);
}

/// Nonblocking connect, readiness through poll/select/epoll, SO_RCVTIMEO/SO_SNDTIMEO.
#[test]
fn net_nonblock_program() {
    compare_program(&["/opt/moat-tests/net_nonblock"]);
}

/// Interface listings: getifaddrs/if_nameindex (route netlink) and SIOCGIF* ioctls on lo.
#[test]
fn net_ifaddrs_program() {
    compare_program(&["/opt/moat-tests/net_ifaddrs"]);
}
