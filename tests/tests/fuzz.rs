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

use moat_tests::{
    mountinfo, mounts_under, processes_matching, require_root, run_with_timeout, wait_until,
    TestEnv,
};
use serde_json::json;
use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Calls per syscall number and batch: 471 numbers and a few beyond, ~10 s per run.
const CALLS: &str = "40";

/// (type, mode, uid, gid, size, mtime, content) of every entry below `root`, by relative path.
/// Access times are left out: reading a file may update them.
fn snapshot(root: &Path) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let rd = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        for e in rd.flatten() {
            let p = e.path();
            let md = std::fs::symlink_metadata(&p).unwrap();
            let ft = md.file_type();
            let what = if ft.is_dir() {
                stack.push(p.clone());
                "d".to_string()
            } else if ft.is_symlink() {
                format!("l {}", std::fs::read_link(&p).unwrap().display())
            } else if ft.is_file() {
                let data = std::fs::read(&p).unwrap();
                format!("f {:016x}", fnv1a(&data))
            } else {
                "o".to_string()
            };
            let rel = p.strip_prefix(root).unwrap().to_path_buf();
            let line = format!(
                "{what} mode={:o} owner={}:{} size={} mtime={}.{}",
                md.mode(),
                md.uid(),
                md.gid(),
                md.size(),
                md.mtime(),
                md.mtime_nsec()
            );
            out.insert(rel, line);
        }
    }
    let md = std::fs::metadata(root).unwrap();
    out.insert(
        PathBuf::from("."),
        format!("d mode={:o} mtime={}", md.mode(), md.mtime()),
    );
    out
}

fn fnv1a(data: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in data {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

/// Lines that differ between two snapshots (for the failure message).
fn snapshot_diff(a: &BTreeMap<PathBuf, String>, b: &BTreeMap<PathBuf, String>) -> String {
    let mut out = String::new();
    for (k, v) in a {
        match b.get(k) {
            None => out += &format!("  removed {}: {v}\n", k.display()),
            Some(w) if w != v => out += &format!("  changed {}: {v} -> {w}\n", k.display()),
            _ => {}
        }
    }
    for (k, v) in b {
        if !a.contains_key(k) {
            out += &format!("  added {}: {v}\n", k.display());
        }
    }
    out
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default()
}

/// The host's network links by name (the sandbox has a network namespace of its own).
fn host_links() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir("/sys/class/net")
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Wall clock minus monotonic clock, in ms: constant unless someone sets the wall clock.
fn clock_offset_ms() -> i64 {
    let wall = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec into ts.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    wall - (ts.tv_sec * 1000 + ts.tv_nsec / 1_000_000)
}

/// The cgroup directories named `name` in any hierarchy under /sys/fs/cgroup.
fn cgroup_dirs(name: &str) -> Vec<PathBuf> {
    let mut v = Vec::new();
    if let Ok(rd) = std::fs::read_dir("/sys/fs/cgroup") {
        for h in rd.flatten() {
            let d = h.path().join(name);
            if d.is_dir() {
                v.push(d);
            }
        }
    }
    let d = Path::new("/sys/fs/cgroup").join(name);
    if d.is_dir() && !v.contains(&d) {
        v.push(d);
    }
    v
}

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
    let (host_name, links, mounts) = (hostname(), host_links(), mountinfo());
    let offset = clock_offset_ms();
    let host_tmp_fuzz = Path::new("/tmp/fuzz").exists();

    let id = env.new_id();
    let mut cmd = env.moat_cmd(&[
        "run".as_ref(),
        "--bundle".as_ref(),
        bundle.dir.as_os_str(),
        id.as_ref(),
    ]);
    cmd.current_dir("/");
    let out = run_with_timeout(cmd, Duration::from_secs(240));

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
    let needle = bundle.dir.to_string_lossy().into_owned();
    assert!(
        wait_until(Duration::from_secs(5), || processes_matching(&needle)
            .is_empty()
            && processes_matching(&id).is_empty()),
        "processes of the container outlived it: {:?} {:?}",
        processes_matching(&needle),
        processes_matching(&id)
    );
    let list = env.moat(&["list", "--quiet"]);
    assert!(list.success(), "moat list failed: {}", list.describe());
    assert!(
        !list.stdout.lines().any(|l| l == id),
        "{id} is still listed after run returned: {}",
        list.stdout
    );
    let state = env.moat(&["state", &id]);
    assert!(
        !state.success(),
        "state of a finished run still answers: {}",
        state.describe()
    );
    assert!(
        mounts_under(&bundle.dir).is_empty(),
        "mounts left below the bundle"
    );
    assert!(
        wait_until(Duration::from_secs(5), || cgroup_dirs(&cgroup).is_empty()),
        "the container's cgroup is left: {:?}",
        cgroup_dirs(&cgroup)
    );

    // 2. nothing outside the sandbox changed
    let rootfs_after = snapshot(&bundle.rootfs());
    assert!(
        rootfs_before == rootfs_after,
        "the bundle's rootfs changed:\n{}",
        snapshot_diff(&rootfs_before, &rootfs_after)
    );
    let canary_after = snapshot(&canary);
    assert!(
        canary_before == canary_after,
        "the read-only bind-mounted host directory changed:\n{}",
        snapshot_diff(&canary_before, &canary_after)
    );
    assert_eq!(hostname(), host_name, "the host's hostname changed");
    assert_eq!(host_links(), links, "the host's network links changed");
    assert_eq!(mountinfo(), mounts, "the host's mount table changed");
    let drift = (clock_offset_ms() - offset).abs();
    assert!(
        drift < 1000,
        "the host's wall clock moved by {drift} ms relative to monotonic"
    );
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
