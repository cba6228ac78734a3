//! Debian's trinity, the kernel's own syscall fuzzer, inside the sandbox as an unprivileged
//! user within a 2 GiB memory limit (issue 10: it used to be OOM-killed at start-up, walking
//! a /proc whose task directories nested without end). A fixed seed and a fixed number of
//! calls keep the run repeatable; `make fuzz` runs it for longer.
//!
//! Asserted: trinity starts, makes every call it was asked for and exits 0; the sandbox
//! stays within its memory limit; the host is unchanged (the bundle's rootfs, hostname,
//! network links, mount table, wall clock) and nothing of the container is left on it
//! (processes, state, cgroup, mounts).
//!
//! trinity's socket file descriptors stay off (`--disable-fds=sockets`): Debian's trinity
//! 2023.01 reads past its protocol table while it builds its socket cache and dies of
//! SIGSEGV natively too, in most runs on this host.

use moat_tests::host_state::{assert_torn_down, assert_tree_unchanged, snapshot, HostState};
use moat_tests::{require_root, TestEnv};
use serde_json::json;
use std::path::Path;
use std::time::Duration;

const TRINITY: &str = "/usr/bin/trinity";

/// Calls to make: MOAT_TRINITY_CALLS, 20000 by default (about 20 s here on systrap, as under
/// runc; 80 to 270 s and sometimes past 10 minutes on ptrace, whose syscall stops are slow).
/// The run may take 300 s plus 25 ms a call.
fn calls() -> String {
    std::env::var("MOAT_TRINITY_CALLS").unwrap_or_else(|_| "20000".into())
}

#[test]
fn trinity_fuzzes_inside_the_sandbox() {
    require_root!();
    if !Path::new(TRINITY).exists() {
        eprintln!("SKIP: {TRINITY} is not installed (make deps installs it)");
        return;
    }
    let env = TestEnv::new("trinity");
    let calls = calls();
    let bundle = env.bundle(
        "bundle",
        &[
            TRINITY,
            "-q",
            "-N",
            &calls,
            "-C",
            "2",
            "--dangerous",
            "--disable-fds=sockets",
            "-s",
            "4242",
        ],
    );
    std::fs::copy(TRINITY, bundle.rootfs().join("usr/bin/trinity")).unwrap();
    let mut config = bundle.config();
    // trinity refuses root without --dangerous, and writes its logs into its cwd.
    config["process"]["user"] = json!({ "uid": 1000, "gid": 1000 });
    config["process"]["cwd"] = json!("/tmp");
    config["linux"]["resources"] = json!({ "memory": { "limit": 2u64 << 30 } });
    let cgroup = format!("moat-trinity-{}", std::process::id());
    config["linux"]["cgroupsPath"] = json!(format!("/{cgroup}"));
    bundle.write_config(&config);
    std::fs::set_permissions(
        bundle.rootfs().join("tmp"),
        std::os::unix::fs::PermissionsExt::from_mode(0o1777),
    )
    .unwrap();

    let limit: u64 = calls.parse().unwrap_or(0);
    let rootfs_before = snapshot(&bundle.rootfs());
    let host = HostState::capture();
    let (id, out) = env.run_bundle_from_root(&bundle, Duration::from_secs(300 + limit / 40));
    // "[main] Ran N syscalls. Successes: ..." (N may pass the limit by a call per child)
    let ran: Option<u64> = out.stdout.lines().find_map(|l| {
        let rest = l.split("Ran ").nth(1)?;
        rest.split_whitespace().next()?.parse().ok()
    });
    let tail: Vec<&str> = out.stdout.lines().rev().take(25).collect();
    assert!(
        !out.timed_out && out.code == 0 && ran.is_some_and(|n| n >= limit),
        "trinity did not finish its {calls} calls (ran {ran:?}; exit {}, timed out {}; 137 \
         would be the memory limit)\nstderr: {}\nlast lines of stdout:\n{}",
        out.code,
        out.timed_out,
        out.stderr,
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    );
    eprintln!("trinity ran {} syscalls", ran.unwrap_or(0));
    assert_torn_down(&env, &bundle, &id, &cgroup);
    assert_tree_unchanged(&rootfs_before, &bundle.rootfs(), "the bundle's rootfs");
    host.assert_unchanged();
}
