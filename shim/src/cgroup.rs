//! The container's cgroup and its usage, in containerd's metrics types: cgroups v1
//! `io.containerd.cgroups.v1.Metrics` or v2 `io.containerd.cgroups.v2.Metrics`, chosen the way
//! containerd chooses (the v2 type only when /sys/fs/cgroup is the unified hierarchy; on a
//! hybrid layout the v1 controllers hold the sandbox). `ctr task metrics` and the CRI plugin
//! decode the `Any` by its type name.
//!
//! The cgroup is the sandbox process's (`/proc/<pid>/cgroup`, where `moat create` put it and
//! with it the sentry and every stub); the spec's `linux.cgroupsPath` is the fallback.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use containerd_shim::protos::cgroups::metrics as v1;
use containerd_shim::protos::cgroups_v2::metrics as v2;
use containerd_shim::protos::protobuf::well_known_types::any::Any;
use containerd_shim::protos::protobuf::{Message, MessageField};

#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("{path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("no cgroup {0} found for the container")]
    NotFound(&'static str),
    #[error("encode metrics: {0}")]
    Encode(String),
}

/// The container's cgroup directories.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cgroup {
    V1(V1Dirs),
    V2(PathBuf),
}

/// The v1 controllers the metrics read (each may be mounted alone or with others).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct V1Dirs {
    pub cpu: Option<PathBuf>,
    pub cpuacct: Option<PathBuf>,
    pub memory: Option<PathBuf>,
    pub pids: Option<PathBuf>,
    pub blkio: Option<PathBuf>,
}

const V1_CONTROLLERS: [&str; 5] = ["cpu", "cpuacct", "memory", "pids", "blkio"];

/// Whether `/sys/fs/cgroup` is the cgroup2 hierarchy itself (unified mode).
pub fn host_is_unified() -> bool {
    nix::sys::statfs::statfs("/sys/fs/cgroup")
        .map(|s| s.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC)
        .unwrap_or(false)
}

fn read(path: &Path) -> Result<String, CgroupError> {
    fs::read_to_string(path).map_err(|source| CgroupError::Read {
        path: path.display().to_string(),
        source,
    })
}

/// The cgroup of process `pid`.
pub fn of_pid(pid: u32) -> Result<Cgroup, CgroupError> {
    let cg = read(Path::new(&format!("/proc/{pid}/cgroup")))?;
    let mi = read(Path::new("/proc/self/mountinfo"))?;
    resolve(host_is_unified(), &cg, &mi)
}

/// The cgroup a spec's `linux.cgroupsPath` names (a plain path; systemd's `slice:prefix:name`
/// form is left to `of_pid`).
pub fn of_cgroups_path(path: &str) -> Result<Cgroup, CgroupError> {
    if !path.starts_with('/') {
        return Err(CgroupError::NotFound("path"));
    }
    let mi = read(Path::new("/proc/self/mountinfo"))?;
    let unified = host_is_unified();
    let cg = if unified {
        format!("0::{path}\n")
    } else {
        V1_CONTROLLERS
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{}:{c}:{path}\n", i + 1))
            .collect()
    };
    resolve(unified, &cg, &mi)
}

struct Mount<'a> {
    root: &'a str,
    point: &'a str,
    fstype: &'a str,
    superopts: &'a str,
}

fn mounts(mountinfo: &str) -> Vec<Mount<'_>> {
    mountinfo
        .lines()
        .filter_map(|l| {
            let (pre, post) = l.split_once(" - ")?;
            let pre: Vec<&str> = pre.split(' ').collect();
            let post: Vec<&str> = post.split(' ').collect();
            Some(Mount {
                root: pre.get(3)?,
                point: pre.get(4)?,
                fstype: post.first()?,
                superopts: post.get(2).copied().unwrap_or(""),
            })
        })
        .collect()
}

/// `mountpoint` + `path` made relative to the mount's root.
fn under(m: &Mount, path: &str) -> PathBuf {
    let rel = path
        .strip_prefix(m.root)
        .filter(|_| m.root != "/")
        .unwrap_or(path);
    Path::new(m.point).join(rel.trim_start_matches('/'))
}

/// Finds the directories of the cgroup that `/proc/PID/cgroup` text names, on the hierarchies
/// `/proc/self/mountinfo` text shows.
pub fn resolve(unified: bool, proc_cgroup: &str, mountinfo: &str) -> Result<Cgroup, CgroupError> {
    let ms = mounts(mountinfo);
    let lines: Vec<(&str, &str)> = proc_cgroup
        .lines()
        .filter_map(|l| {
            let mut it = l.splitn(3, ':');
            let _id = it.next()?;
            Some((it.next()?, it.next()?))
        })
        .collect();
    if unified {
        let path = lines
            .iter()
            .find(|(c, _)| c.is_empty())
            .map(|(_, p)| *p)
            .ok_or(CgroupError::NotFound("v2 path"))?;
        let m = ms
            .iter()
            .filter(|m| m.fstype == "cgroup2")
            .min_by_key(|m| m.point != "/sys/fs/cgroup")
            .ok_or(CgroupError::NotFound("v2 mount"))?;
        return Ok(Cgroup::V2(under(m, path)));
    }
    let mut dirs = V1Dirs::default();
    for ctrl in V1_CONTROLLERS {
        let Some((_, path)) = lines
            .iter()
            .find(|(cs, _)| cs.split(',').any(|c| c == ctrl))
        else {
            continue;
        };
        let Some(m) = ms
            .iter()
            .find(|m| m.fstype == "cgroup" && m.superopts.split(',').any(|o| o == ctrl))
        else {
            continue;
        };
        let d = Some(under(m, path));
        match ctrl {
            "cpu" => dirs.cpu = d,
            "cpuacct" => dirs.cpuacct = d,
            "memory" => dirs.memory = d,
            "pids" => dirs.pids = d,
            _ => dirs.blkio = d,
        }
    }
    if dirs == V1Dirs::default() {
        return Err(CgroupError::NotFound("v1 controller"));
    }
    Ok(Cgroup::V1(dirs))
}

// ---------------------------------------------------------------------------------------------
// Reading cgroup files. A missing file or an odd line counts as 0, as in containerd's readers:
// metrics are best effort, a missing controller must not fail them.

fn num(dir: &Path, file: &str, max: u64) -> u64 {
    fs::read_to_string(dir.join(file))
        .ok()
        .and_then(|s| {
            let s = s.trim();
            if s == "max" {
                Some(max)
            } else {
                s.parse().ok()
            }
        })
        .unwrap_or(0)
}

/// `key value` lines.
fn flat(dir: &Path, file: &str) -> HashMap<String, u64> {
    fs::read_to_string(dir.join(file))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k.to_string(), v.trim().parse().ok()?))
        })
        .collect()
}

fn clock_ticks() -> u64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .and_then(|t| u64::try_from(t).ok())
        .filter(|&t| t > 0)
        .unwrap_or(100)
}

pub fn metrics_v1(d: &V1Dirs) -> v1::Metrics {
    let mut m = v1::Metrics::new();
    if let Some(p) = &d.pids {
        m.pids = MessageField::some(v1::PidsStat {
            current: num(p, "pids.current", 0),
            // containerd's v1 reader: "max" is 0 (no limit).
            limit: num(p, "pids.max", 0),
            ..Default::default()
        });
    }
    if d.cpu.is_some() || d.cpuacct.is_some() {
        let mut cpu = v1::CPUStat::new();
        if let Some(p) = &d.cpuacct {
            let stat = flat(p, "cpuacct.stat");
            let ns = |ticks: u64| ticks.saturating_mul(1_000_000_000) / clock_ticks();
            cpu.usage = MessageField::some(v1::CPUUsage {
                total: num(p, "cpuacct.usage", 0),
                kernel: ns(stat.get("system").copied().unwrap_or(0)),
                user: ns(stat.get("user").copied().unwrap_or(0)),
                per_cpu: fs::read_to_string(p.join("cpuacct.usage_percpu"))
                    .unwrap_or_default()
                    .split_whitespace()
                    .filter_map(|v| v.parse().ok())
                    .collect(),
                ..Default::default()
            });
        }
        if let Some(p) = &d.cpu {
            let s = flat(p, "cpu.stat");
            let g = |k: &str| s.get(k).copied().unwrap_or(0);
            cpu.throttling = MessageField::some(v1::Throttle {
                periods: g("nr_periods"),
                throttled_periods: g("nr_throttled"),
                throttled_time: g("throttled_time"),
                ..Default::default()
            });
        }
        m.cpu = MessageField::some(cpu);
    }
    if let Some(p) = &d.memory {
        let mut s = v1::MemoryStat::new();
        for (k, v) in flat(p, "memory.stat") {
            set_v1_memory(&mut s, &k, v);
        }
        let entry = |prefix: &str| {
            MessageField::some(v1::MemoryEntry {
                limit: num(p, &format!("{prefix}.limit_in_bytes"), 0),
                usage: num(p, &format!("{prefix}.usage_in_bytes"), 0),
                max: num(p, &format!("{prefix}.max_usage_in_bytes"), 0),
                failcnt: num(p, &format!("{prefix}.failcnt"), 0),
                ..Default::default()
            })
        };
        s.usage = entry("memory");
        s.swap = entry("memory.memsw");
        s.kernel = entry("memory.kmem");
        s.kernel_tcp = entry("memory.kmem.tcp");
        m.memory = MessageField::some(s);
        let oom = flat(p, "memory.oom_control");
        let g = |k: &str| oom.get(k).copied().unwrap_or(0);
        m.memory_oom_control = MessageField::some(v1::MemoryOomControl {
            oom_kill_disable: g("oom_kill_disable"),
            under_oom: g("under_oom"),
            oom_kill: g("oom_kill"),
            ..Default::default()
        });
    }
    if let Some(p) = &d.blkio {
        let entries = |file: &str, alt: &str| {
            let text = fs::read_to_string(p.join(file))
                .or_else(|_| fs::read_to_string(p.join(alt)))
                .unwrap_or_default();
            blkio_entries(&text)
        };
        m.blkio = MessageField::some(v1::BlkIOStat {
            io_service_bytes_recursive: entries(
                "blkio.io_service_bytes_recursive",
                "blkio.throttle.io_service_bytes_recursive",
            ),
            io_serviced_recursive: entries(
                "blkio.io_serviced_recursive",
                "blkio.throttle.io_serviced_recursive",
            ),
            ..Default::default()
        });
    }
    m
}

/// `MAJ:MIN Op value` lines (the `Total` line is skipped).
fn blkio_entries(text: &str) -> Vec<v1::BlkIOEntry> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() != 3 {
                return None;
            }
            let (maj, min) = f[0].split_once(':')?;
            Some(v1::BlkIOEntry {
                op: f[1].to_string(),
                major: maj.parse().ok()?,
                minor: min.parse().ok()?,
                value: f[2].parse().ok()?,
                ..Default::default()
            })
        })
        .collect()
}

fn set_v1_memory(s: &mut v1::MemoryStat, key: &str, v: u64) {
    let (total, k) = match key.strip_prefix("total_") {
        Some(k) => (true, k),
        None => (false, key),
    };
    let field = match (total, k) {
        (false, "cache") => &mut s.cache,
        (false, "rss") => &mut s.rss,
        (false, "rss_huge") => &mut s.rss_huge,
        (false, "mapped_file") => &mut s.mapped_file,
        (false, "dirty") => &mut s.dirty,
        (false, "writeback") => &mut s.writeback,
        (false, "pgpgin") => &mut s.pg_pg_in,
        (false, "pgpgout") => &mut s.pg_pg_out,
        (false, "pgfault") => &mut s.pg_fault,
        (false, "pgmajfault") => &mut s.pg_maj_fault,
        (false, "inactive_anon") => &mut s.inactive_anon,
        (false, "active_anon") => &mut s.active_anon,
        (false, "inactive_file") => &mut s.inactive_file,
        (false, "active_file") => &mut s.active_file,
        (false, "unevictable") => &mut s.unevictable,
        (false, "hierarchical_memory_limit") => &mut s.hierarchical_memory_limit,
        (false, "hierarchical_memsw_limit") => &mut s.hierarchical_swap_limit,
        (true, "cache") => &mut s.total_cache,
        (true, "rss") => &mut s.total_rss,
        (true, "rss_huge") => &mut s.total_rss_huge,
        (true, "mapped_file") => &mut s.total_mapped_file,
        (true, "dirty") => &mut s.total_dirty,
        (true, "writeback") => &mut s.total_writeback,
        (true, "pgpgin") => &mut s.total_pg_pg_in,
        (true, "pgpgout") => &mut s.total_pg_pg_out,
        (true, "pgfault") => &mut s.total_pg_fault,
        (true, "pgmajfault") => &mut s.total_pg_maj_fault,
        (true, "inactive_anon") => &mut s.total_inactive_anon,
        (true, "active_anon") => &mut s.total_active_anon,
        (true, "inactive_file") => &mut s.total_inactive_file,
        (true, "active_file") => &mut s.total_active_file,
        (true, "unevictable") => &mut s.total_unevictable,
        _ => return,
    };
    *field = v;
}

pub fn metrics_v2(d: &Path) -> v2::Metrics {
    let mut m = v2::Metrics::new();
    m.pids = MessageField::some(v2::PidsStat {
        current: num(d, "pids.current", 0),
        limit: num(d, "pids.max", u64::MAX),
        ..Default::default()
    });
    let c = flat(d, "cpu.stat");
    let g = |k: &str| c.get(k).copied().unwrap_or(0);
    m.cpu = MessageField::some(v2::CPUStat {
        usage_usec: g("usage_usec"),
        user_usec: g("user_usec"),
        system_usec: g("system_usec"),
        nr_periods: g("nr_periods"),
        nr_throttled: g("nr_throttled"),
        throttled_usec: g("throttled_usec"),
        nr_bursts: g("nr_bursts"),
        burst_usec: g("burst_usec"),
        ..Default::default()
    });
    let mut s = v2::MemoryStat::new();
    for (k, v) in flat(d, "memory.stat") {
        set_v2_memory(&mut s, &k, v);
    }
    s.usage = num(d, "memory.current", 0);
    s.usage_limit = num(d, "memory.max", u64::MAX);
    s.swap_usage = num(d, "memory.swap.current", 0);
    s.swap_limit = num(d, "memory.swap.max", u64::MAX);
    s.max_usage = num(d, "memory.peak", 0);
    s.swap_max_usage = num(d, "memory.swap.peak", 0);
    m.memory = MessageField::some(s);
    let e = flat(d, "memory.events");
    let g = |k: &str| e.get(k).copied().unwrap_or(0);
    m.memory_events = MessageField::some(v2::MemoryEvents {
        low: g("low"),
        high: g("high"),
        max: g("max"),
        oom: g("oom"),
        oom_kill: g("oom_kill"),
        oom_group_kill: g("oom_group_kill"),
        ..Default::default()
    });
    m.io = MessageField::some(v2::IOStat {
        usage: io_entries(&fs::read_to_string(d.join("io.stat")).unwrap_or_default()),
        ..Default::default()
    });
    m
}

/// `MAJ:MIN rbytes=N wbytes=N rios=N wios=N ...` lines.
fn io_entries(text: &str) -> Vec<v2::IOEntry> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (maj, min) = f.next()?.split_once(':')?;
            let mut e = v2::IOEntry {
                major: maj.parse().ok()?,
                minor: min.parse().ok()?,
                ..Default::default()
            };
            for kv in f {
                let Some((k, v)) = kv.split_once('=') else {
                    continue;
                };
                let v = v.parse().unwrap_or(0);
                match k {
                    "rbytes" => e.rbytes = v,
                    "wbytes" => e.wbytes = v,
                    "rios" => e.rios = v,
                    "wios" => e.wios = v,
                    _ => {}
                }
            }
            Some(e)
        })
        .collect()
}

fn set_v2_memory(s: &mut v2::MemoryStat, key: &str, v: u64) {
    let field = match key {
        "anon" => &mut s.anon,
        "file" => &mut s.file,
        "kernel_stack" => &mut s.kernel_stack,
        "slab" => &mut s.slab,
        "sock" => &mut s.sock,
        "shmem" => &mut s.shmem,
        "file_mapped" => &mut s.file_mapped,
        "file_dirty" => &mut s.file_dirty,
        "file_writeback" => &mut s.file_writeback,
        "anon_thp" => &mut s.anon_thp,
        "inactive_anon" => &mut s.inactive_anon,
        "active_anon" => &mut s.active_anon,
        "inactive_file" => &mut s.inactive_file,
        "active_file" => &mut s.active_file,
        "unevictable" => &mut s.unevictable,
        "slab_reclaimable" => &mut s.slab_reclaimable,
        "slab_unreclaimable" => &mut s.slab_unreclaimable,
        "pgfault" => &mut s.pgfault,
        "pgmajfault" => &mut s.pgmajfault,
        "workingset_refault" | "workingset_refault_anon" => &mut s.workingset_refault,
        "workingset_activate" | "workingset_activate_anon" => &mut s.workingset_activate,
        "workingset_nodereclaim" => &mut s.workingset_nodereclaim,
        "pgrefill" => &mut s.pgrefill,
        "pgscan" => &mut s.pgscan,
        "pgsteal" => &mut s.pgsteal,
        "pgactivate" => &mut s.pgactivate,
        "pgdeactivate" => &mut s.pgdeactivate,
        "pglazyfree" => &mut s.pglazyfree,
        "pglazyfreed" => &mut s.pglazyfreed,
        "thp_fault_alloc" => &mut s.thp_fault_alloc,
        "thp_collapse_alloc" => &mut s.thp_collapse_alloc,
        _ => return,
    };
    *field = v;
}

/// The metrics of `cg` as the `Any` a Stats call answers with.
pub fn metrics_any(cg: &Cgroup) -> Result<Any, CgroupError> {
    let (type_url, value) = match cg {
        Cgroup::V1(d) => {
            let m = metrics_v1(d);
            (
                m.descriptor_dyn_name(),
                m.write_to_bytes()
                    .map_err(|e| CgroupError::Encode(e.to_string()))?,
            )
        }
        Cgroup::V2(d) => {
            let m = metrics_v2(d);
            (
                m.descriptor_dyn_name(),
                m.write_to_bytes()
                    .map_err(|e| CgroupError::Encode(e.to_string()))?,
            )
        }
    };
    Ok(Any {
        type_url,
        value,
        ..Default::default()
    })
}

/// The full protobuf name (`io.containerd.cgroups.v1.Metrics`), which is the type URL
/// containerd's typeurl registry knows these messages by.
trait FullName {
    fn descriptor_dyn_name(&self) -> String;
}

impl<M: Message + containerd_shim::protos::protobuf::MessageFull> FullName for M {
    fn descriptor_dyn_name(&self) -> String {
        M::descriptor().full_name().to_string()
    }
}

/// How many times the kernel's OOM killer struck in the cgroup (None: no memory controller).
pub fn oom_kills(cg: &Cgroup) -> Option<u64> {
    match cg {
        Cgroup::V1(d) => d
            .memory
            .as_ref()
            .and_then(|p| flat(p, "memory.oom_control").get("oom_kill").copied()),
        Cgroup::V2(d) => flat(d, "memory.events").get("oom_kill").copied(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO: &str = "\
25 30 0:23 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
31 25 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec shared:9 - tmpfs tmpfs rw,mode=755
35 31 0:30 / /sys/fs/cgroup/cpu rw,relatime shared:12 - cgroup cgroup rw,cpu
36 31 0:31 / /sys/fs/cgroup/cpuacct rw,relatime shared:13 - cgroup cgroup rw,cpuacct
37 31 0:32 / /sys/fs/cgroup/memory rw,relatime shared:14 - cgroup cgroup rw,memory
38 31 0:33 / /sys/fs/cgroup/pids rw,relatime shared:15 - cgroup cgroup rw,pids
39 31 0:34 /kubepods /sys/fs/cgroup/blkio rw,relatime shared:16 - cgroup cgroup rw,blkio
40 31 0:35 / /sys/fs/cgroup/unified rw,relatime shared:17 - cgroup2 cgroup2 rw
";

    #[test]
    fn resolve_hybrid_and_unified() {
        let cg = "\
12:pids:/moat-test/c2
11:memory:/moat-test/c2
10:cpuacct:/moat-test/c2
9:cpu:/moat-test/c2
8:blkio:/kubepods/pod1
1:name=systemd:/user.slice
0::/user.slice/session-1.scope
";
        let c = resolve(false, cg, MOUNTINFO).unwrap();
        assert_eq!(
            c,
            Cgroup::V1(V1Dirs {
                cpu: Some("/sys/fs/cgroup/cpu/moat-test/c2".into()),
                cpuacct: Some("/sys/fs/cgroup/cpuacct/moat-test/c2".into()),
                memory: Some("/sys/fs/cgroup/memory/moat-test/c2".into()),
                pids: Some("/sys/fs/cgroup/pids/moat-test/c2".into()),
                // A mount whose root is a sub-cgroup (a cgroup namespace's view).
                blkio: Some("/sys/fs/cgroup/blkio/pod1".into()),
            })
        );
        // Unified: the cgroup2 line, on the hierarchy mounted at /sys/fs/cgroup.
        let mi = "40 31 0:35 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
        assert_eq!(
            resolve(true, "0::/k8s.io/abc\n", mi).unwrap(),
            Cgroup::V2("/sys/fs/cgroup/k8s.io/abc".into())
        );
        assert!(resolve(true, "3:memory:/x\n", mi).is_err());
        assert!(resolve(false, "0::/x\n", MOUNTINFO).is_err());
    }

    fn write(dir: &Path, files: &[(&str, &str)]) {
        fs::create_dir_all(dir).unwrap();
        for (f, text) in files {
            fs::write(dir.join(f), text).unwrap();
        }
    }

    #[test]
    fn v1_metrics_from_a_fake_cgroup() {
        let t = tempfile::tempdir().unwrap();
        let dir = |c: &str| t.path().join(c);
        write(
            &dir("cpuacct"),
            &[
                ("cpuacct.usage", "123456789\n"),
                ("cpuacct.usage_percpu", "100000000 23456789 \n"),
                ("cpuacct.stat", "user 7\nsystem 3\n"),
            ],
        );
        write(
            &dir("cpu"),
            &[(
                "cpu.stat",
                "nr_periods 10\nnr_throttled 2\nthrottled_time 5000\n",
            )],
        );
        write(
            &dir("memory"),
            &[
                ("memory.usage_in_bytes", "4096000\n"),
                ("memory.limit_in_bytes", "9223372036854771712\n"),
                ("memory.max_usage_in_bytes", "5000000\n"),
                ("memory.failcnt", "0\n"),
                (
                    "memory.stat",
                    "cache 8192\nrss 4000000\npgfault 77\ntotal_rss 4000000\ntotal_cache 8192\nhierarchical_memory_limit 9223372036854771712\nbogus\n",
                ),
                ("memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n"),
            ],
        );
        write(
            &dir("pids"),
            &[("pids.current", "5\n"), ("pids.max", "max\n")],
        );
        write(
            &dir("blkio"),
            &[(
                "blkio.throttle.io_service_bytes_recursive",
                "8:0 Read 4096\n8:0 Write 8192\nTotal 12288\n",
            )],
        );
        let d = V1Dirs {
            cpu: Some(dir("cpu")),
            cpuacct: Some(dir("cpuacct")),
            memory: Some(dir("memory")),
            pids: Some(dir("pids")),
            blkio: Some(dir("blkio")),
        };
        let m = metrics_v1(&d);
        assert_eq!((m.pids.current, m.pids.limit), (5, 0));
        assert_eq!(m.cpu.usage.total, 123456789);
        assert_eq!(m.cpu.usage.per_cpu, vec![100000000, 23456789]);
        let tick = 1_000_000_000 / clock_ticks();
        assert_eq!((m.cpu.usage.user, m.cpu.usage.kernel), (7 * tick, 3 * tick));
        assert_eq!(m.cpu.throttling.throttled_periods, 2);
        assert_eq!(m.memory.usage.usage, 4096000);
        assert_eq!(m.memory.usage.max, 5000000);
        assert_eq!(m.memory.rss, 4000000);
        assert_eq!(m.memory.total_cache, 8192);
        assert_eq!(m.memory.pg_fault, 77);
        assert_eq!(m.memory.swap.usage, 0); // no memsw files: zero, not an error
        assert_eq!(m.memory_oom_control.oom_kill, 2);
        let b = &m.blkio.io_service_bytes_recursive;
        assert_eq!(b.len(), 2);
        assert_eq!(
            (b[1].op.as_str(), b[1].major, b[1].value),
            ("Write", 8, 8192)
        );
        let c = Cgroup::V1(d);
        assert_eq!(oom_kills(&c), Some(2));
        // The Any carries containerd's type name and decodes back.
        let any = metrics_any(&c).unwrap();
        assert_eq!(any.type_url, "io.containerd.cgroups.v1.Metrics");
        let back = v1::Metrics::parse_from_bytes(&any.value).unwrap();
        assert_eq!(back, m);
    }

    #[test]
    fn v2_metrics_from_a_fake_cgroup() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("k8s.io/c1");
        write(
            &d,
            &[
                (
                    "cpu.stat",
                    "usage_usec 2500\nuser_usec 2000\nsystem_usec 500\nnr_periods 0\nnr_throttled 0\nthrottled_usec 0\n",
                ),
                ("pids.current", "3\n"),
                ("pids.max", "100\n"),
                ("memory.current", "1048576\n"),
                ("memory.max", "max\n"),
                ("memory.stat", "anon 524288\nfile 4096\nshmem 0\npgfault 12\n"),
                ("memory.events", "low 0\nhigh 0\nmax 1\noom 1\noom_kill 1\n"),
                ("io.stat", "8:0 rbytes=1024 wbytes=2048 rios=1 wios=2 dbytes=0 dios=0\n"),
            ],
        );
        let m = metrics_v2(&d);
        assert_eq!((m.pids.current, m.pids.limit), (3, 100));
        assert_eq!(
            (m.cpu.usage_usec, m.cpu.user_usec, m.cpu.system_usec),
            (2500, 2000, 500)
        );
        assert_eq!(m.memory.usage, 1048576);
        assert_eq!(m.memory.usage_limit, u64::MAX);
        assert_eq!(
            (m.memory.anon, m.memory.file, m.memory.pgfault),
            (524288, 4096, 12)
        );
        assert_eq!(m.memory_events.oom_kill, 1);
        assert_eq!(m.io.usage.len(), 1);
        assert_eq!((m.io.usage[0].rbytes, m.io.usage[0].wios), (1024, 2));
        let c = Cgroup::V2(d);
        assert_eq!(oom_kills(&c), Some(1));
        let any = metrics_any(&c).unwrap();
        assert_eq!(any.type_url, "io.containerd.cgroups.v2.Metrics");
        assert_eq!(v2::Metrics::parse_from_bytes(&any.value).unwrap(), m);
    }

    #[test]
    fn empty_cgroup_dir_gives_zeros() {
        let t = tempfile::tempdir().unwrap();
        let m = metrics_v2(t.path());
        assert_eq!(m.pids.current, 0);
        assert_eq!(oom_kills(&Cgroup::V1(V1Dirs::default())), None);
    }
}
