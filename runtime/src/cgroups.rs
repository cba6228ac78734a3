//! The sandbox's cgroup: `linux.cgroupsPath` with `linux.resources` applied, on cgroup v1, v2
//! and the hybrid layout (v1 controllers plus a cgroup2 hierarchy at `/sys/fs/cgroup/unified`).
//!
//! A small hand-written writer: hierarchies are found in `/proc/self/mountinfo`, the sandbox's
//! directories are created (recording which ones moat made, so `delete` removes exactly those),
//! resources are written as the kernel's own files, and statistics are read back in the shape
//! of runc's `events --stats`.
//!
//! Paths follow runc: an absolute `cgroupsPath` is below each hierarchy's root, a relative one
//! below moat's own cgroup, and an absent one is the container id below moat's own cgroup. With
//! `--systemd-cgroup`, `slice:prefix:name` becomes `<slice path>/<prefix>-<name>.scope`, written
//! directly (moat does not talk to systemd).

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use oci_spec::runtime::LinuxResources;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::error::{Error, Result};

/// The key of the cgroup2 directory in [`CgroupPaths::dirs`].
pub const UNIFIED: &str = "unified";

/// v1 hierarchies the sandbox joins (every one that is mounted).
const V1_CONTROLLERS: &[&str] = &[
    "cpuset",
    "cpu",
    "cpuacct",
    "memory",
    "devices",
    "freezer",
    "blkio",
    "pids",
    "hugetlb",
    "net_cls",
    "net_prio",
    "perf_event",
    "rdma",
    "misc",
    "name=systemd",
];

/// cgroup2 controllers moat enables for the sandbox when the parent offers them.
const V2_CONTROLLERS: &[&str] = &["cpuset", "cpu", "io", "memory", "pids", "hugetlb"];

/// Where the sandbox's cgroup lives, recorded in `state.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CgroupPaths {
    /// v1 controller name (`memory`, `cpu`, ...) or [`UNIFIED`] → absolute directory.
    #[serde(default)]
    pub dirs: BTreeMap<String, PathBuf>,
    /// Directories moat created, parents first; `delete` removes them deepest first.
    #[serde(default)]
    pub created: Vec<PathBuf>,
}

impl CgroupPaths {
    pub fn is_empty(&self) -> bool {
        self.dirs.is_empty()
    }

    /// v1 controllers are present (v1 or hybrid layout).
    pub fn is_v1(&self) -> bool {
        self.dirs.keys().any(|k| k != UNIFIED)
    }

    /// The directory of a v1 controller, or the unified directory on pure v2.
    fn dir_for(&self, controller: &str) -> Option<&Path> {
        if self.is_v1() {
            self.dirs.get(controller).map(PathBuf::as_path)
        } else {
            self.dirs.get(UNIFIED).map(PathBuf::as_path)
        }
    }

    fn unique_dirs(&self) -> Vec<&Path> {
        let mut v: Vec<&Path> = self.dirs.values().map(PathBuf::as_path).collect();
        v.sort();
        v.dedup();
        v
    }
}

/// One mounted cgroup hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hierarchy {
    /// v1 controllers of this mount (e.g. `["cpu", "cpuacct"]` or `["name=systemd"]`);
    /// empty for cgroup2.
    pub controllers: Vec<String>,
    pub mountpoint: PathBuf,
    /// The cgroup at the mount's root (not `/` inside a cgroup namespace).
    pub root: String,
}

impl Hierarchy {
    pub fn is_v2(&self) -> bool {
        self.controllers.is_empty()
    }
}

/// The host's cgroup hierarchies.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Layout {
    pub v1: Vec<Hierarchy>,
    pub v2: Option<Hierarchy>,
}

impl Layout {
    /// Reads `/proc/self/mountinfo`.
    pub fn detect() -> Result<Layout> {
        let data = fs::read_to_string("/proc/self/mountinfo")
            .map_err(|e| Error::io("read /proc/self/mountinfo", e))?;
        Ok(Layout::parse(&data))
    }

    pub fn parse(mountinfo: &str) -> Layout {
        let mut layout = Layout::default();
        for line in mountinfo.lines() {
            let Some((pre, post)) = line.split_once(" - ") else {
                continue;
            };
            let pre: Vec<&str> = pre.split(' ').collect();
            let post: Vec<&str> = post.split(' ').collect();
            if pre.len() < 5 || post.len() < 3 {
                continue;
            }
            let (root, mountpoint) = (unescape(pre[3]), PathBuf::from(unescape(pre[4])));
            match post[0] {
                "cgroup2" if layout.v2.is_none() => {
                    layout.v2 = Some(Hierarchy {
                        controllers: Vec::new(),
                        mountpoint,
                        root,
                    })
                }
                "cgroup" => {
                    let controllers: Vec<String> = post[2]
                        .split(',')
                        .filter(|o| V1_CONTROLLERS.contains(o))
                        .map(str::to_string)
                        .collect();
                    if controllers.is_empty()
                        || layout
                            .v1
                            .iter()
                            .any(|h| h.controllers.iter().any(|c| controllers.contains(c)))
                    {
                        continue;
                    }
                    layout.v1.push(Hierarchy {
                        controllers,
                        mountpoint,
                        root,
                    });
                }
                _ => {}
            }
        }
        layout
    }

    /// "v1", "v2", "hybrid" or "none".
    pub fn mode(&self) -> &'static str {
        match (self.v1.is_empty(), self.v2.is_some()) {
            (true, true) => "v2",
            (false, true) => "hybrid",
            (false, false) => "v1",
            (true, false) => "none",
        }
    }
}

fn unescape(s: &str) -> String {
    s.replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
}

/// This process's cgroups: hierarchy key (`memory`, `cpu,cpuacct`, `name=systemd`, or `""`
/// for cgroup2) → path, from `/proc/self/cgroup`.
fn own_cgroups(data: &str) -> BTreeMap<String, String> {
    data.lines()
        .filter_map(|l| {
            let mut it = l.splitn(3, ':');
            let (_, ctrls, path) = (it.next()?, it.next()?, it.next()?);
            Some((ctrls.to_string(), path.to_string()))
        })
        .collect()
}

/// Converts a systemd `slice:prefix:name` cgroupsPath into the path systemd would use.
pub fn systemd_path(spec: &str, id: &str) -> Result<String> {
    let parts: Vec<&str> = spec.split(':').collect();
    let (slice, prefix, name) = match parts.as_slice() {
        [""] => ("system.slice", "moat", id),
        [s, p, n] => (*s, *p, *n),
        _ => {
            return Err(Error::Config(format!(
                "cgroupsPath {spec:?}: with --systemd-cgroup it must be slice:prefix:name"
            )))
        }
    };
    let slice = if slice.is_empty() {
        "system.slice"
    } else {
        slice
    };
    if !slice.ends_with(".slice") || slice.contains('/') {
        return Err(Error::Config(format!(
            "cgroupsPath {spec:?}: invalid slice {slice:?}"
        )));
    }
    // a-b-c.slice lives in a.slice/a-b.slice/a-b-c.slice.
    let stem = &slice[..slice.len() - ".slice".len()];
    let mut path = String::new();
    if stem != "-" {
        let mut acc = String::new();
        for (i, part) in stem.split('-').enumerate() {
            if part.is_empty() {
                return Err(Error::Config(format!(
                    "cgroupsPath {spec:?}: invalid slice {slice:?}"
                )));
            }
            if i > 0 {
                acc.push('-');
            }
            acc.push_str(part);
            path.push('/');
            path.push_str(&acc);
            path.push_str(".slice");
        }
    }
    let unit = if name.ends_with(".slice") {
        name.to_string()
    } else if prefix.is_empty() {
        format!("{name}.scope")
    } else {
        format!("{prefix}-{name}.scope")
    };
    Ok(format!("{path}/{unit}"))
}

/// Rejects `..` components so that a cgroupsPath cannot name a directory outside the hierarchy.
fn check_path(p: &str) -> Result<()> {
    if Path::new(p)
        .components()
        .any(|c| matches!(c, std::path::Component::ParentDir))
    {
        return Err(Error::Config(format!(
            "cgroupsPath {p:?} must not contain \"..\""
        )));
    }
    Ok(())
}

/// The directories the sandbox's cgroup has in each hierarchy (nothing is created).
pub fn resolve(
    layout: &Layout,
    cgroups_path: Option<&str>,
    id: &str,
    systemd: bool,
) -> Result<CgroupPaths> {
    let own = own_cgroups(&fs::read_to_string("/proc/self/cgroup").unwrap_or_default());
    resolve_with(layout, &own, cgroups_path, id, systemd)
}

fn resolve_with(
    layout: &Layout,
    own: &BTreeMap<String, String>,
    cgroups_path: Option<&str>,
    id: &str,
    systemd: bool,
) -> Result<CgroupPaths> {
    let raw = cgroups_path.unwrap_or("");
    let path = if systemd {
        systemd_path(raw, id)?
    } else if raw.is_empty() {
        id.to_string()
    } else {
        raw.to_string()
    };
    check_path(&path)?;
    let dir = |h: &Hierarchy, key: &str| -> PathBuf {
        let rel = if path.starts_with('/') {
            path.trim_start_matches('/').to_string()
        } else {
            // Below our own cgroup in this hierarchy, seen from the mount's root.
            let mine = own.get(key).map(String::as_str).unwrap_or("/");
            let mine = mine.strip_prefix(h.root.as_str()).unwrap_or(mine);
            format!("{}/{}", mine.trim_matches('/'), path)
        };
        let rel = rel.trim_matches('/');
        if rel.is_empty() {
            h.mountpoint.clone()
        } else {
            h.mountpoint.join(rel)
        }
    };
    let mut out = CgroupPaths::default();
    for h in &layout.v1 {
        let key = h.controllers.join(",");
        let d = dir(h, &key);
        for c in &h.controllers {
            out.dirs.insert(c.clone(), d.clone());
        }
    }
    if let Some(h) = &layout.v2 {
        out.dirs.insert(UNIFIED.to_string(), dir(h, ""));
    }
    Ok(out)
}

fn write_file(dir: &Path, file: &str, value: &str) -> Result<()> {
    let p = dir.join(file);
    fs::write(&p, value).map_err(|e| {
        Error::Other(format!(
            "cgroup: write {value:?} to {}: {}",
            p.display(),
            describe(&e)
        ))
    })
}

fn describe(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => "no such file (is the controller available?)".into(),
        _ => e.to_string(),
    }
}

fn read_file(dir: &Path, file: &str) -> Option<String> {
    fs::read_to_string(dir.join(file))
        .ok()
        .map(|s| s.trim().to_string())
}

/// Creates every missing directory of `paths`, recording which ones it made. On v1 a new
/// cpuset directory gets its parent's `cpus` and `mems` (it cannot hold tasks without them);
/// on v2 the controllers moat uses are enabled along the way.
pub fn create(paths: &mut CgroupPaths, layout: &Layout) -> Result<()> {
    let mut created = Vec::new();
    let result = (|| {
        for (key, dir) in paths.dirs.clone() {
            let mount = if key == UNIFIED {
                layout.v2.as_ref().map(|h| h.mountpoint.clone())
            } else {
                layout
                    .v1
                    .iter()
                    .find(|h| h.controllers.contains(&key))
                    .map(|h| h.mountpoint.clone())
            };
            let Some(mount) = mount else { continue };
            let rel = dir.strip_prefix(&mount).map_err(|_| {
                Error::Other(format!(
                    "cgroup {} is outside {}",
                    dir.display(),
                    mount.display()
                ))
            })?;
            let mut cur = mount.clone();
            for comp in rel.components() {
                let parent = cur.clone();
                cur.push(comp);
                if key == UNIFIED && layout.v1.is_empty() {
                    enable_v2_controllers(&parent);
                }
                if cur.is_dir() {
                    continue;
                }
                match fs::create_dir(&cur) {
                    Ok(()) => created.push(cur.clone()),
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                    Err(e) => {
                        return Err(Error::io(format!("cgroup: create {}", cur.display()), e))
                    }
                }
                if key == "cpuset" {
                    for f in ["cpuset.cpus", "cpuset.mems"] {
                        if read_file(&cur, f).is_some_and(|v| v.is_empty()) {
                            if let Some(v) = read_file(&parent, f) {
                                write_file(&cur, f, &v)?;
                            }
                        }
                    }
                }
            }
        }
        Ok(())
    })();
    paths.created = created;
    if result.is_err() {
        destroy(paths);
    }
    result
}

/// `+controller` in `dir/cgroup.subtree_control` for each controller moat uses that `dir`
/// offers (best effort: a resource write later reports what is missing).
fn enable_v2_controllers(dir: &Path) {
    let available = read_file(dir, "cgroup.controllers").unwrap_or_default();
    let enabled = read_file(dir, "cgroup.subtree_control").unwrap_or_default();
    for c in V2_CONTROLLERS {
        if available.split(' ').any(|a| a == *c) && !enabled.split(' ').any(|a| a == *c) {
            if let Err(e) = fs::write(dir.join("cgroup.subtree_control"), format!("+{c}")) {
                tracing::debug!("enable {c} in {}: {e}", dir.display());
            }
        }
    }
}

/// Moves `pid` (and its future children) into every directory of the cgroup.
pub fn add_pid(paths: &CgroupPaths, pid: i32) -> Result<()> {
    for d in paths.unique_dirs() {
        write_file(d, "cgroup.procs", &pid.to_string())?;
    }
    Ok(())
}

/// Removes the directories moat created (deepest first), waiting up to 5 s for their tasks to
/// be gone. Errors are logged: delete must go on.
pub fn destroy(paths: &CgroupPaths) {
    let deadline = Instant::now() + Duration::from_secs(5);
    for dir in paths.created.iter().rev() {
        loop {
            match fs::remove_dir(dir) {
                Ok(()) => break,
                Err(e) if e.kind() == io::ErrorKind::NotFound => break,
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) && Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(e) => {
                    tracing::warn!("cgroup: remove {}: {e}", dir.display());
                    break;
                }
            }
        }
    }
}

/// Whether any process is still in the cgroup.
pub fn populated(paths: &CgroupPaths) -> bool {
    paths
        .unique_dirs()
        .iter()
        .any(|d| read_file(d, "cgroup.procs").is_some_and(|s| !s.is_empty()))
}

/// Writes `linux.resources` into the cgroup.
pub fn apply(paths: &CgroupPaths, r: &LinuxResources) -> Result<()> {
    if paths.is_empty() {
        return Ok(());
    }
    if paths.is_v1() {
        apply_v1(paths, r)
    } else {
        apply_v2(paths, r)
    }
}

fn need<'a>(paths: &'a CgroupPaths, controller: &str) -> Result<&'a Path> {
    paths.dir_for(controller).ok_or_else(|| {
        Error::Other(format!(
            "cgroup: the {controller} controller is not available on this host"
        ))
    })
}

fn v1_limit(v: i64) -> String {
    v.to_string()
}

fn v2_limit(v: i64) -> String {
    if v < 0 {
        "max".into()
    } else {
        v.to_string()
    }
}

fn apply_v1(paths: &CgroupPaths, r: &LinuxResources) -> Result<()> {
    if let Some(m) = r.memory() {
        let any = m.limit().is_some()
            || m.swap().is_some()
            || m.reservation().is_some()
            || m.swappiness().is_some()
            || m.disable_oom_killer().is_some()
            || m.kernel().is_some()
            || m.kernel_tcp().is_some();
        if any {
            let d = need(paths, "memory")?;
            match (m.limit(), m.swap()) {
                (Some(l), Some(s)) => {
                    // The kernel insists on memory <= memory+swap at every step: try one order,
                    // then the other.
                    let first = write_file(d, "memory.limit_in_bytes", &v1_limit(l))
                        .and_then(|_| write_file(d, "memory.memsw.limit_in_bytes", &v1_limit(s)));
                    if first.is_err() {
                        write_file(d, "memory.memsw.limit_in_bytes", &v1_limit(s))?;
                        write_file(d, "memory.limit_in_bytes", &v1_limit(l))?;
                    }
                }
                (Some(l), None) => write_file(d, "memory.limit_in_bytes", &v1_limit(l))?,
                (None, Some(s)) => write_file(d, "memory.memsw.limit_in_bytes", &v1_limit(s))?,
                (None, None) => {}
            }
            if let Some(v) = m.reservation() {
                write_file(d, "memory.soft_limit_in_bytes", &v1_limit(v))?;
            }
            if let Some(v) = m.swappiness() {
                if v > 100 {
                    return Err(Error::Config(format!("memory.swappiness {v} is above 100")));
                }
                write_file(d, "memory.swappiness", &v.to_string())?;
            }
            if m.disable_oom_killer() == Some(true) {
                write_file(d, "memory.oom_control", "1")?;
            }
            for (v, f) in [
                (m.kernel(), "memory.kmem.limit_in_bytes"),
                (m.kernel_tcp(), "memory.kmem.tcp.limit_in_bytes"),
            ] {
                if let Some(v) = v {
                    if let Err(e) = write_file(d, f, &v1_limit(v)) {
                        tracing::warn!("{e} (kernel memory limits are deprecated)");
                    }
                }
            }
        }
    }
    if let Some(c) = r.cpu() {
        if c.shares().is_some_and(|s| s > 0)
            || c.period().is_some()
            || c.quota().is_some()
            || c.realtime_period().is_some()
            || c.realtime_runtime().is_some()
        {
            let d = need(paths, "cpu")?;
            if let Some(s) = c.shares().filter(|&s| s > 0) {
                write_file(d, "cpu.shares", &s.to_string())?;
            }
            if let Some(p) = c.period().filter(|&p| p > 0) {
                write_file(d, "cpu.cfs_period_us", &p.to_string())?;
            }
            if let Some(q) = c.quota().filter(|&q| q != 0) {
                write_file(d, "cpu.cfs_quota_us", &q.to_string())?;
            }
            if let Some(p) = c.realtime_period().filter(|&p| p > 0) {
                write_file(d, "cpu.rt_period_us", &p.to_string())?;
            }
            if let Some(q) = c.realtime_runtime().filter(|&q| q != 0) {
                write_file(d, "cpu.rt_runtime_us", &q.to_string())?;
            }
        }
        apply_cpuset(paths, c.cpus().as_deref(), c.mems().as_deref())?;
    }
    if let Some(p) = r.pids() {
        let d = need(paths, "pids")?;
        write_file(d, "pids.max", &pids_limit(p.limit()))?;
    }
    if let Some(b) = r.block_io() {
        let d = || need(paths, "blkio");
        if let Some(w) = b.weight() {
            let d = d()?;
            let f = if d.join("blkio.weight").exists() {
                "blkio.weight"
            } else {
                "blkio.bfq.weight"
            };
            write_file(d, f, &w.to_string())?;
        }
        for (list, file) in [
            (
                b.throttle_read_bps_device(),
                "blkio.throttle.read_bps_device",
            ),
            (
                b.throttle_write_bps_device(),
                "blkio.throttle.write_bps_device",
            ),
            (
                b.throttle_read_iops_device(),
                "blkio.throttle.read_iops_device",
            ),
            (
                b.throttle_write_iops_device(),
                "blkio.throttle.write_iops_device",
            ),
        ] {
            for t in list.iter().flatten() {
                write_file(
                    d()?,
                    file,
                    &format!("{}:{} {}", t.major(), t.minor(), t.rate()),
                )?;
            }
        }
    }
    for h in r.hugepage_limits().iter().flatten() {
        let d = need(paths, "hugetlb")?;
        write_file(
            d,
            &format!("hugetlb.{}.limit_in_bytes", h.page_size()),
            &h.limit().to_string(),
        )?;
    }
    if let Some(n) = r.network() {
        if let Some(id) = n.class_id() {
            write_file(need(paths, "net_cls")?, "net_cls.classid", &id.to_string())?;
        }
        for p in n.priorities().iter().flatten() {
            write_file(
                need(paths, "net_prio")?,
                "net_prio.ifpriomap",
                &format!("{} {}", p.name(), p.priority()),
            )?;
        }
    }
    if let Some(u) = r.unified() {
        if !u.is_empty() {
            let d = paths
                .dirs
                .get(UNIFIED)
                .ok_or_else(|| Error::Config("linux.resources.unified needs cgroup v2".into()))?;
            apply_unified(d, u)?;
        }
    }
    Ok(())
}

fn pids_limit(limit: i64) -> String {
    if limit > 0 {
        limit.to_string()
    } else {
        "max".into()
    }
}

fn apply_cpuset(paths: &CgroupPaths, cpus: Option<&str>, mems: Option<&str>) -> Result<()> {
    for (v, f) in [(cpus, "cpuset.cpus"), (mems, "cpuset.mems")] {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            write_file(need(paths, "cpuset")?, f, v)?;
        }
    }
    Ok(())
}

fn apply_unified(dir: &Path, u: &std::collections::HashMap<String, String>) -> Result<()> {
    for (k, v) in u {
        if k.contains('/') || k.starts_with('.') || k.is_empty() {
            return Err(Error::Config(format!(
                "linux.resources.unified: invalid key {k:?}"
            )));
        }
        write_file(dir, k, v)?;
    }
    Ok(())
}

/// runc's conversion of cgroup v1 `cpu.shares` (2..262144) to v2 `cpu.weight` (1..10000).
pub fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 0;
    }
    1 + (shares.saturating_sub(2) * 9999) / 262142
}

fn apply_v2(paths: &CgroupPaths, r: &LinuxResources) -> Result<()> {
    let d = need(paths, UNIFIED)?;
    if let Some(m) = r.memory() {
        if let Some(l) = m.limit() {
            write_file(d, "memory.max", &v2_limit(l))?;
        }
        if let Some(s) = m.swap() {
            // OCI swap is memory+swap; v2's swap.max is swap alone.
            let v = match m.limit() {
                _ if s < 0 => "max".to_string(),
                Some(l) if l > 0 => {
                    if s < l {
                        return Err(Error::Config(format!(
                            "memory.swap {s} is less than memory.limit {l}"
                        )));
                    }
                    (s - l).to_string()
                }
                _ => s.to_string(),
            };
            write_file(d, "memory.swap.max", &v)?;
        }
        if let Some(v) = m.reservation() {
            write_file(d, "memory.low", &v2_limit(v))?;
        }
        if m.disable_oom_killer() == Some(true) {
            tracing::warn!("memory.disableOOMKiller has no cgroup v2 equivalent; ignored");
        }
    }
    if let Some(c) = r.cpu() {
        if let Some(s) = c.shares().filter(|&s| s > 0) {
            write_file(d, "cpu.weight", &shares_to_weight(s).to_string())?;
        }
        if c.quota().is_some() || c.period().is_some() {
            let quota = match c.quota() {
                Some(q) if q > 0 => q.to_string(),
                _ => "max".to_string(),
            };
            let line = match c.period().filter(|&p| p > 0) {
                Some(p) => format!("{quota} {p}"),
                None => quota,
            };
            write_file(d, "cpu.max", &line)?;
        }
        if let Some(i) = c.idle() {
            write_file(d, "cpu.idle", &i.to_string())?;
        }
        if c.realtime_runtime().is_some_and(|v| v != 0)
            || c.realtime_period().is_some_and(|v| v != 0)
        {
            return Err(Error::Config(
                "cpu.realtimeRuntime/realtimePeriod need cgroup v1".into(),
            ));
        }
        apply_cpuset(paths, c.cpus().as_deref(), c.mems().as_deref())?;
    }
    if let Some(p) = r.pids() {
        write_file(d, "pids.max", &pids_limit(p.limit()))?;
    }
    if let Some(b) = r.block_io() {
        if let Some(w) = b.weight() {
            // v1 weights are 10..1000, v2's 1..10000.
            let w = 1 + (u64::from(w).saturating_sub(10) * 9999) / 990;
            write_file(d, "io.weight", &format!("default {w}"))?;
        }
        for (list, key) in [
            (b.throttle_read_bps_device(), "rbps"),
            (b.throttle_write_bps_device(), "wbps"),
            (b.throttle_read_iops_device(), "riops"),
            (b.throttle_write_iops_device(), "wiops"),
        ] {
            for t in list.iter().flatten() {
                write_file(
                    d,
                    "io.max",
                    &format!("{}:{} {key}={}", t.major(), t.minor(), t.rate()),
                )?;
            }
        }
    }
    for h in r.hugepage_limits().iter().flatten() {
        write_file(
            d,
            &format!("hugetlb.{}.max", h.page_size()),
            &v2_limit(h.limit()),
        )?;
    }
    if r.network()
        .as_ref()
        .is_some_and(|n| n.class_id().is_some() || n.priorities().is_some())
    {
        tracing::warn!("linux.resources.network needs cgroup v1 (net_cls, net_prio); ignored");
    }
    if let Some(u) = r.unified() {
        apply_unified(d, u)?;
    }
    Ok(())
}

fn num(dir: &Path, file: &str) -> Option<u64> {
    read_file(dir, file)?.parse().ok()
}

/// `max` (v2) or a huge v1 value as runc reports them (u64 max becomes the v1 page-rounded
/// "unlimited", kept as read).
fn limit_value(dir: &Path, file: &str) -> Option<u64> {
    let s = read_file(dir, file)?;
    if s == "max" {
        Some(u64::MAX)
    } else {
        s.parse().ok()
    }
}

fn flat_keyed(dir: &Path, file: &str) -> BTreeMap<String, u64> {
    read_file(dir, file)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k.to_string(), v.trim().parse().ok()?))
        })
        .collect()
}

fn list(dir: &Path, file: &str) -> Vec<u64> {
    read_file(dir, file)
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|v| v.parse().ok())
        .collect()
}

/// Parses a cpuset list like `0-3,5`.
fn cpu_list(s: &str) -> Vec<u64> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                if let (Ok(a), Ok(b)) = (a.parse::<u64>(), b.parse::<u64>()) {
                    out.extend(a..=b.min(a + 4096));
                }
            }
            None => out.extend(part.parse::<u64>().ok()),
        }
    }
    out
}

fn insert(map: &mut Map<String, Value>, key: &str, v: Option<u64>) {
    if let Some(v) = v {
        map.insert(key.into(), json!(v));
    }
}

/// Usage in the shape of runc's `events --stats` `data` (cpu, cpuset, memory, pids, blkio,
/// hugetlb, intel_rdt, network_interfaces).
pub fn stats(paths: &CgroupPaths) -> Value {
    let mut cpu = Map::new();
    let mut memory = Map::new();
    let mut pids = Map::new();
    let mut cpuset = Map::new();
    // USER_HZ ticks in cpuacct.stat → nanoseconds.
    let tick_ns = 1_000_000_000 / clock_ticks();
    if paths.is_v1() {
        if let Some(d) = paths.dir_for("cpuacct") {
            let st = flat_keyed(d, "cpuacct.stat");
            let mut usage = Map::new();
            insert(&mut usage, "total", num(d, "cpuacct.usage"));
            usage.insert("percpu".into(), json!(list(d, "cpuacct.usage_percpu")));
            let pk = list(d, "cpuacct.usage_percpu_sys");
            if !pk.is_empty() {
                usage.insert("percpu_kernel".into(), json!(pk));
            }
            let pu = list(d, "cpuacct.usage_percpu_user");
            if !pu.is_empty() {
                usage.insert("percpu_user".into(), json!(pu));
            }
            usage.insert(
                "kernel".into(),
                json!(st.get("system").copied().unwrap_or(0) * tick_ns),
            );
            usage.insert(
                "user".into(),
                json!(st.get("user").copied().unwrap_or(0) * tick_ns),
            );
            cpu.insert("usage".into(), Value::Object(usage));
        }
        let mut thr = Map::new();
        if let Some(d) = paths.dir_for("cpu") {
            let st = flat_keyed(d, "cpu.stat");
            insert(&mut thr, "periods", st.get("nr_periods").copied());
            insert(
                &mut thr,
                "throttled_periods",
                st.get("nr_throttled").copied(),
            );
            insert(
                &mut thr,
                "throttled_time",
                st.get("throttled_time").copied(),
            );
        }
        cpu.insert("throttling".into(), Value::Object(thr));
        if let Some(d) = paths.dir_for("memory") {
            let entry = |prefix: &str| {
                let mut m = Map::new();
                insert(
                    &mut m,
                    "limit",
                    limit_value(d, &format!("{prefix}limit_in_bytes")),
                );
                insert(&mut m, "usage", num(d, &format!("{prefix}usage_in_bytes")));
                insert(
                    &mut m,
                    "max",
                    num(d, &format!("{prefix}max_usage_in_bytes")),
                );
                insert(&mut m, "failcnt", num(d, &format!("{prefix}failcnt")));
                Value::Object(m)
            };
            memory.insert("usage".into(), entry("memory."));
            memory.insert("swap".into(), entry("memory.memsw."));
            memory.insert("kernel".into(), entry("memory.kmem."));
            memory.insert("kernelTCP".into(), entry("memory.kmem.tcp."));
            memory.insert("raw".into(), json!(flat_keyed(d, "memory.stat")));
        }
        if let Some(d) = paths.dir_for("pids") {
            insert(&mut pids, "current", num(d, "pids.current"));
            insert(
                &mut pids,
                "limit",
                limit_value(d, "pids.max").filter(|&v| v != u64::MAX),
            );
        }
    } else if let Some(d) = paths.dirs.get(UNIFIED) {
        let st = flat_keyed(d, "cpu.stat");
        let us = |k: &str| st.get(k).map(|v| v * 1000);
        let mut usage = Map::new();
        insert(&mut usage, "total", us("usage_usec"));
        insert(&mut usage, "kernel", us("system_usec"));
        insert(&mut usage, "user", us("user_usec"));
        cpu.insert("usage".into(), Value::Object(usage));
        let mut thr = Map::new();
        insert(&mut thr, "periods", st.get("nr_periods").copied());
        insert(
            &mut thr,
            "throttled_periods",
            st.get("nr_throttled").copied(),
        );
        insert(&mut thr, "throttled_time", us("throttled_usec"));
        cpu.insert("throttling".into(), Value::Object(thr));
        let ev = flat_keyed(d, "memory.events");
        let mut usage = Map::new();
        insert(&mut usage, "limit", limit_value(d, "memory.max"));
        insert(&mut usage, "usage", num(d, "memory.current"));
        insert(&mut usage, "max", num(d, "memory.peak"));
        insert(&mut usage, "failcnt", ev.get("max").copied());
        memory.insert("usage".into(), Value::Object(usage));
        let mut swap = Map::new();
        insert(&mut swap, "limit", limit_value(d, "memory.swap.max"));
        insert(&mut swap, "usage", num(d, "memory.swap.current"));
        memory.insert("swap".into(), Value::Object(swap));
        memory.insert("raw".into(), json!(flat_keyed(d, "memory.stat")));
        insert(&mut pids, "current", num(d, "pids.current"));
        insert(
            &mut pids,
            "limit",
            limit_value(d, "pids.max").filter(|&v| v != u64::MAX),
        );
    }
    if let Some(d) = paths.dir_for("cpuset") {
        let (cpus_file, mems_file) = if paths.is_v1() {
            ("cpuset.cpus", "cpuset.mems")
        } else {
            ("cpuset.cpus.effective", "cpuset.mems.effective")
        };
        if let Some(c) = read_file(d, cpus_file) {
            cpuset.insert("cpus".into(), json!(cpu_list(&c)));
        }
        if let Some(m) = read_file(d, mems_file) {
            cpuset.insert("mems".into(), json!(cpu_list(&m)));
        }
    }
    let mut data = Map::new();
    data.insert("cpu".into(), Value::Object(cpu));
    if !cpuset.is_empty() {
        data.insert("cpuset".into(), Value::Object(cpuset));
    }
    data.insert("memory".into(), Value::Object(memory));
    data.insert("pids".into(), Value::Object(pids));
    data.insert("blkio".into(), json!({}));
    data.insert("hugetlb".into(), json!({}));
    data.insert("intel_rdt".into(), json!({}));
    data.insert("network_interfaces".into(), Value::Null);
    Value::Object(data)
}

fn clock_ticks() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as u64
    } else {
        100
    }
}

/// Whether the cgroup reported an out-of-memory kill since `last` (for `events`): v1
/// `memory.oom_control`'s `oom_kill`, v2 `memory.events`' `oom_kill`.
pub fn oom_kills(paths: &CgroupPaths) -> u64 {
    if paths.is_v1() {
        paths
            .dir_for("memory")
            .and_then(|d| flat_keyed(d, "memory.oom_control").get("oom_kill").copied())
            .unwrap_or(0)
    } else {
        paths
            .dirs
            .get(UNIFIED)
            .and_then(|d| flat_keyed(d, "memory.events").get("oom_kill").copied())
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
30 25 0:26 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755
31 30 0:27 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw
32 30 0:28 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd
33 30 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct
34 30 0:30 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
35 30 0:31 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids
36 30 0:32 / /sys/fs/cgroup/cpuset rw - cgroup cgroup rw,cpuset
";

    #[test]
    fn parse_layouts() {
        let l = Layout::parse(HYBRID);
        assert_eq!(l.mode(), "hybrid");
        assert_eq!(l.v1.len(), 5);
        assert_eq!(l.v1[1].controllers, ["cpu", "cpuacct"]);
        assert_eq!(
            l.v2.as_ref().unwrap().mountpoint,
            Path::new("/sys/fs/cgroup/unified")
        );
        let v2 = Layout::parse("30 25 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n");
        assert_eq!(v2.mode(), "v2");
        assert_eq!(Layout::parse("").mode(), "none");
    }

    #[test]
    fn resolve_paths() {
        let l = Layout::parse(HYBRID);
        let own: BTreeMap<String, String> = own_cgroups(
            "5:memory:/outer/me\n4:cpu,cpuacct:/\n3:pids:/\n2:name=systemd:/\n1:cpuset:/\n0::/u\n",
        );
        let p = resolve_with(&l, &own, Some("/default/c1"), "c1", false).unwrap();
        assert_eq!(
            p.dirs["memory"],
            Path::new("/sys/fs/cgroup/memory/default/c1")
        );
        assert_eq!(
            p.dirs["cpu"],
            Path::new("/sys/fs/cgroup/cpu,cpuacct/default/c1")
        );
        assert_eq!(p.dirs["cpuacct"], p.dirs["cpu"]);
        assert_eq!(
            p.dirs[UNIFIED],
            Path::new("/sys/fs/cgroup/unified/default/c1")
        );
        assert!(p.is_v1());
        let p = resolve_with(&l, &own, Some("rel/x"), "c1", false).unwrap();
        assert_eq!(
            p.dirs["memory"],
            Path::new("/sys/fs/cgroup/memory/outer/me/rel/x")
        );
        assert_eq!(p.dirs["pids"], Path::new("/sys/fs/cgroup/pids/rel/x"));
        assert_eq!(p.dirs[UNIFIED], Path::new("/sys/fs/cgroup/unified/u/rel/x"));
        let p = resolve_with(&l, &own, None, "c1", false).unwrap();
        assert_eq!(p.dirs["pids"], Path::new("/sys/fs/cgroup/pids/c1"));
        assert!(resolve_with(&l, &own, Some("/a/../../etc"), "c1", false).is_err());
        let p = resolve_with(&l, &own, Some("machine.slice:libpod:abc"), "c1", true).unwrap();
        assert_eq!(
            p.dirs["pids"],
            Path::new("/sys/fs/cgroup/pids/machine.slice/libpod-abc.scope")
        );
    }

    #[test]
    fn systemd_paths() {
        assert_eq!(
            systemd_path("a-b.slice:p:n", "x").unwrap(),
            "/a.slice/a-b.slice/p-n.scope"
        );
        assert_eq!(
            systemd_path(":p:n", "x").unwrap(),
            "/system.slice/p-n.scope"
        );
        assert_eq!(systemd_path("-.slice:p:n", "x").unwrap(), "/p-n.scope");
        assert_eq!(systemd_path("", "x").unwrap(), "/system.slice/moat-x.scope");
        assert!(systemd_path("a:b", "x").is_err());
        assert!(systemd_path("bad:p:n", "x").is_err());
    }

    #[test]
    fn conversions() {
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(shares_to_weight(262144), 10000);
        assert_eq!(cpu_list("0-2,5"), [0, 1, 2, 5]);
        assert_eq!(pids_limit(0), "max");
        assert_eq!(pids_limit(-1), "max");
        assert_eq!(pids_limit(7), "7");
        assert_eq!(v2_limit(-1), "max");
    }

    /// The v2 writer against a fake cgroup directory.
    #[test]
    fn v2_writes() {
        let d = std::env::temp_dir().join(format!("moat-cg-v2-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        let mut p = CgroupPaths::default();
        p.dirs.insert(UNIFIED.into(), d.clone());
        let r: LinuxResources = serde_json::from_value(json!({
            "memory": {"limit": 1048576, "swap": 2097152, "reservation": 4096},
            "cpu": {"shares": 1024, "quota": 50000, "period": 100000, "cpus": "0", "mems": "0"},
            "pids": {"limit": 10},
            "unified": {"memory.high": "900000"}
        }))
        .unwrap();
        apply(&p, &r).unwrap();
        let rd = |f: &str| fs::read_to_string(d.join(f)).unwrap();
        assert_eq!(rd("memory.max"), "1048576");
        assert_eq!(rd("memory.swap.max"), "1048576");
        assert_eq!(rd("memory.low"), "4096");
        assert_eq!(rd("cpu.weight"), "39");
        assert_eq!(rd("cpu.max"), "50000 100000");
        assert_eq!(rd("cpuset.cpus"), "0");
        assert_eq!(rd("pids.max"), "10");
        assert_eq!(rd("memory.high"), "900000");
        let bad: LinuxResources =
            serde_json::from_value(json!({"unified": {"../x": "1"}})).unwrap();
        assert!(apply(&p, &bad).is_err());
        fs::write(d.join("pids.current"), "3\n").unwrap();
        fs::write(d.join("memory.current"), "4096\n").unwrap();
        fs::write(
            d.join("cpu.stat"),
            "usage_usec 10\nuser_usec 4\nsystem_usec 6\n",
        )
        .unwrap();
        let s = stats(&p);
        assert_eq!(s["pids"]["current"], 3);
        assert_eq!(s["pids"]["limit"], 10);
        assert_eq!(s["memory"]["usage"]["usage"], 4096);
        assert_eq!(s["cpu"]["usage"]["total"], 10000);
        fs::remove_dir_all(&d).unwrap();
    }

    /// The v1 writer against fake per-controller directories.
    #[test]
    fn v1_writes() {
        let base = std::env::temp_dir().join(format!("moat-cg-v1-{}", std::process::id()));
        let _ = fs::remove_dir_all(&base);
        let mut p = CgroupPaths::default();
        for c in ["memory", "cpu", "pids", "cpuset"] {
            let d = base.join(c);
            fs::create_dir_all(&d).unwrap();
            p.dirs.insert(c.into(), d);
        }
        let r: LinuxResources = serde_json::from_value(json!({
            "memory": {"limit": 1048576},
            "cpu": {"shares": 512, "quota": 20000, "period": 100000},
            "pids": {"limit": 0}
        }))
        .unwrap();
        apply(&p, &r).unwrap();
        let rd = |c: &str, f: &str| fs::read_to_string(base.join(c).join(f)).unwrap();
        assert_eq!(rd("memory", "memory.limit_in_bytes"), "1048576");
        assert_eq!(rd("cpu", "cpu.shares"), "512");
        assert_eq!(rd("cpu", "cpu.cfs_quota_us"), "20000");
        assert_eq!(rd("cpu", "cpu.cfs_period_us"), "100000");
        assert_eq!(rd("pids", "pids.max"), "max");
        let hugetlb: LinuxResources =
            serde_json::from_value(json!({"hugepageLimits": [{"pageSize": "2MB", "limit": 1}]}))
                .unwrap();
        assert!(apply(&p, &hugetlb)
            .unwrap_err()
            .to_string()
            .contains("hugetlb controller is not available"));
        fs::remove_dir_all(&base).unwrap();
    }
}
