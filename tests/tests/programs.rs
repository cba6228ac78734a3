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
