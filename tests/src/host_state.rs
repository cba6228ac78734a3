//! What a test checks the sandbox left alone on the host: a directory tree's contents, the
//! hostname, network links, mount table and wall clock, and cgroup directories.

use crate::{mountinfo, mounts_under, processes_matching, wait_until, Bundle, TestEnv};
use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;
use std::time::{SystemTime, UNIX_EPOCH};

/// (type, mode, uid, gid, size, mtime, content) of every entry below `root`, by relative path.
/// Access times are left out: reading a file may update them.
pub fn snapshot(root: &Path) -> BTreeMap<PathBuf, String> {
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
pub fn snapshot_diff(a: &BTreeMap<PathBuf, String>, b: &BTreeMap<PathBuf, String>) -> String {
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

pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default()
}

/// The host's network links by name (the sandbox has a network namespace of its own).
pub fn host_links() -> Vec<String> {
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
pub fn clock_offset_ms() -> i64 {
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
pub fn cgroup_dirs(name: &str) -> Vec<PathBuf> {
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

/// The host-wide state a workload with hostile syscalls must not change.
pub struct HostState {
    hostname: String,
    links: Vec<String>,
    mounts: Vec<String>,
    clock_offset_ms: i64,
}

impl HostState {
    pub fn capture() -> HostState {
        HostState {
            hostname: hostname(),
            links: host_links(),
            mounts: mountinfo(),
            clock_offset_ms: clock_offset_ms(),
        }
    }

    /// Panics naming what changed since `capture`.
    pub fn assert_unchanged(&self) {
        assert_eq!(hostname(), self.hostname, "the host's hostname changed");
        assert_eq!(host_links(), self.links, "the host's network links changed");
        assert_eq!(mountinfo(), self.mounts, "the host's mount table changed");
        let drift = (clock_offset_ms() - self.clock_offset_ms).abs();
        assert!(
            drift < 1000,
            "the host's wall clock moved by {drift} ms relative to monotonic"
        );
    }
}

/// Panics unless the tree below `root` is as `before` ([`snapshot`]) recorded it; `what`
/// names it in the message.
pub fn assert_tree_unchanged(before: &BTreeMap<PathBuf, String>, root: &Path, what: &str) {
    let after = snapshot(root);
    assert!(
        *before == after,
        "{what} changed:\n{}",
        snapshot_diff(before, &after)
    );
}

/// Panics unless the finished `moat run` of container `id` from `bundle` left nothing on
/// the host: no process naming the bundle or the id, no listing, no state, no mount below
/// the bundle, no cgroup directory `cgroup`.
pub fn assert_torn_down(env: &TestEnv, bundle: &Bundle, id: &str, cgroup: &str) {
    let needle = bundle.dir.to_string_lossy().into_owned();
    assert!(
        wait_until(Duration::from_secs(5), || processes_matching(&needle)
            .is_empty()
            && processes_matching(id).is_empty()),
        "processes of the container outlived it: {:?} {:?}",
        processes_matching(&needle),
        processes_matching(id)
    );
    let list = env.moat(&["list", "--quiet"]);
    assert!(list.success(), "moat list failed: {}", list.describe());
    assert!(
        !list.stdout.lines().any(|l| l == id),
        "{id} is still listed after run returned: {}",
        list.stdout
    );
    let state = env.moat(&["state", id]);
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
        wait_until(Duration::from_secs(5), || cgroup_dirs(cgroup).is_empty()),
        "the container's cgroup is left: {:?}",
        cgroup_dirs(cgroup)
    );
}
