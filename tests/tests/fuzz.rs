//! The syscall fuzzer (tests/programs/fuzz.c) inside the sandbox: every syscall number, random
//! and hostile arguments, a bounded number of calls per number (each number in a child of its
//! own, so a call that kills or wedges one process ends only its batch).
//!
//! Three things are asserted, for two seeds:
//! 1. the sentry survives: `moat run` finishes in time with exit 0 and the fuzzer's final
//!    `sandbox alive` line (a sentry crash would end the container with a signal status);
//! 2. nothing outside the sandbox changes: the bundle's rootfs (the overlay keeps writes in
//!    sentry memory), a read-only bind-mounted host directory, the host's hostname, mounts,
//!    network links and wall clock (the fuzzer calls sethostname, mount, settimeofday,
//!    clock_settime, adjtimex... with random arguments);
//! 3. the teardown is clean: no process of the container is left on the host, its state
//!    directory and cgroup are gone, nothing stays mounted below the bundle.
//!
//! The fuzzer is never run natively: it calls everything as root.

use moat_tests::host_state::{assert_torn_down, assert_tree_unchanged, snapshot, HostState};
use moat_tests::{require_root, TestEnv};
use serde_json::json;
use std::path::Path;
use std::time::Duration;

/// Calls per syscall number and batch: 471 numbers and a few beyond, ~10 s per run.
const CALLS: &str = "40";

fn fuzz(seed: &str) {
    require_root!();
    let env = TestEnv::new(&format!("fuzz-{seed}"));
    let bundle = env.bundle("bundle", &["/opt/moat-tests/fuzz", CALLS, seed]);

    // a host directory the container sees read-only at /mnt/host
    let canary = env.dir().join("canary");
    std::fs::create_dir_all(canary.join("sub")).unwrap();
    std::fs::write(canary.join("file.txt"), "the host's file\n").unwrap();
    std::fs::write(canary.join("sub/inner"), "inner\n").unwrap();
    let cgroup = format!("moat-fuzz-{}-{seed}", std::process::id());
    let mut config = bundle.config();
    config["mounts"].as_array_mut().unwrap().push(json!({
        "destination": "/mnt/host", "type": "bind", "source": canary,
        "options": ["rbind", "ro"]
    }));
    config["linux"]["cgroupsPath"] = json!(format!("/{cgroup}"));
    bundle.write_config(&config);

    let rootfs_before = snapshot(&bundle.rootfs());
    let canary_before = snapshot(&canary);
    let host = HostState::capture();
    let host_tmp_fuzz = Path::new("/tmp/fuzz").exists();

    let (id, out) = env.run_bundle_from_root(&bundle, Duration::from_secs(240));

    // 1. the sentry survived every call
    assert!(
        !out.timed_out && out.code == 0 && out.stdout.contains("fuzz: done, sandbox alive\n"),
        "the sandbox did not survive the fuzzer (seed {seed}): {}",
        out.describe()
    );
    let summary = out.stdout.lines().next().unwrap_or_default();
    eprintln!("seed {seed}: {summary}");
    assert!(
        summary.contains(" batches, "),
        "no summary line: {}",
        out.describe()
    );

    // 3. clean teardown (checked before anything else can race with a straggler)
    assert_torn_down(&env, &bundle, &id, &cgroup);

    // 2. nothing outside the sandbox changed
    assert_tree_unchanged(&rootfs_before, &bundle.rootfs(), "the bundle's rootfs");
    assert_tree_unchanged(
        &canary_before,
        &canary,
        "the read-only bind-mounted host directory",
    );
    host.assert_unchanged();
    assert_eq!(
        Path::new("/tmp/fuzz").exists(),
        host_tmp_fuzz,
        "/tmp/fuzz (the fuzzer's scratch dir in the sandbox) appeared on the host"
    );
}

#[test]
fn fuzz_seed_moat() {
    fuzz("0x6d6f6174");
}

#[test]
fn fuzz_seed_second() {
    fuzz("0x5eed2");
}
