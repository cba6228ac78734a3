//! cgroups: the whole sandbox (sentry and stubs) lives in `linux.cgroupsPath` with
//! `linux.resources` applied; the limits hold against fork and memory bombs; `delete` removes
//! the cgroup. The same configs run under runc, which must put its container in the same
//! cgroup with the same values.

mod cli_common;

use cli_common::*;
use moat_tests::{require_root, wait_until, TestEnv};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn read(d: &Path, f: &str) -> String {
    std::fs::read_to_string(d.join(f))
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// A cgroup parent unique to this test run, removed (when empty) at the end.
struct Parent(String);

impl Parent {
    fn new(tag: &str) -> Parent {
        Parent(format!("moat-test-{}-{tag}", std::process::id()))
    }
}

impl Drop for Parent {
    fn drop(&mut self) {
        if let Ok(rd) = std::fs::read_dir("/sys/fs/cgroup") {
            for h in rd.flatten() {
                let d = h.path().join(&self.0);
                if d.is_dir() {
                    // runc leaves the parents it created; moat removes what it made.
                    if let Ok(sub) = std::fs::read_dir(&d) {
                        for s in sub.flatten().filter(|s| s.path().is_dir()) {
                            let _ = std::fs::remove_dir(s.path());
                        }
                    }
                    let _ = std::fs::remove_dir(&d);
                }
            }
        }
    }
}

/// Whether cgroup v1 controllers are mounted (this machine's hybrid layout, or pure v1).
fn v1() -> bool {
    Path::new("/sys/fs/cgroup/memory/memory.limit_in_bytes").exists()
}

/// Limits land in the cgroup files as runc writes them, the sandbox and everything it starts
/// is inside, and delete removes it.
#[test]
fn resources_applied_like_runc() {
    require_root!();
    if !v1() {
        eprintln!("SKIP: the value checks are written for cgroup v1 files");
        return;
    }
    let parent = Parent::new("res");
    let mut seen = Vec::new();
    for (name, env) in runtimes("cg-res") {
        let b = small_bundle(
            &env,
            "b",
            &["/bin/sh", "-c", "sleep 100 & sleep 100 & wait"],
        );
        let id = env.new_id();
        let mut c = b.config();
        c["linux"]["cgroupsPath"] = json!(format!("/{}/{id}", parent.0));
        c["linux"]["resources"] = json!({
            "memory": {"limit": 268435456, "reservation": 134217728},
            "pids": {"limit": 64},
            "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0", "mems": "0"}
        });
        b.write_config(&c);
        let o = env.moat(&["create", "--bundle", b.dir.to_str().unwrap(), &id]);
        assert!(o.success(), "{name}: {}", o.describe());
        assert!(env.moat(&["start", &id]).success());
        let pid = state_pid(&env, &id);
        let dir = |ctl: &str| cgroup_dir(pid, ctl).unwrap_or_default();
        let want = PathBuf::from("/sys/fs/cgroup/pids")
            .join(&parent.0)
            .join(&id);
        assert_eq!(dir("pids"), want, "{name}");
        let values = [
            read(&dir("memory"), "memory.limit_in_bytes"),
            read(&dir("memory"), "memory.soft_limit_in_bytes"),
            read(&dir("pids"), "pids.max"),
            read(&dir("cpu"), "cpu.shares"),
            read(&dir("cpu"), "cpu.cfs_quota_us"),
            read(&dir("cpu"), "cpu.cfs_period_us"),
            read(&dir("cpuset"), "cpuset.cpus"),
            read(&dir("cpuset"), "cpuset.mems"),
        ];
        // Every host process of the container (moat: the sentry and its stubs) is inside.
        assert!(
            wait_until(Duration::from_secs(10), || descendants(pid).len() >= 3),
            "{name}: {:?}",
            descendants(pid)
        );
        let procs = read(&dir("pids"), "cgroup.procs");
        for d in descendants(pid) {
            let host_dir = cgroup_dir(d, "pids");
            if host_dir.is_none() {
                continue; // gone meanwhile
            }
            assert_eq!(
                host_dir,
                Some(dir("pids")),
                "{name}: pid {d} outside ({procs})"
            );
            assert_eq!(
                cgroup_dir(d, "memory"),
                Some(dir("memory")),
                "{name}: pid {d}"
            );
        }
        if name == "moat" && Path::new("/sys/fs/cgroup/unified/cgroup.procs").exists() {
            // Hybrid: the cgroup2 hierarchy holds the sandbox at the same path too.
            assert_eq!(
                cgroup_dir(pid, ""),
                Some(
                    PathBuf::from("/sys/fs/cgroup/unified")
                        .join(&parent.0)
                        .join(&id)
                )
            );
        }
        let dirs: Vec<PathBuf> = ["pids", "memory", "cpu", "cpuset"]
            .iter()
            .map(|c| dir(c))
            .collect();
        let o = env.moat(&["delete", "-f", &id]);
        assert!(o.success(), "{name}: {}", o.describe());
        for d in &dirs {
            assert!(
                wait_until(Duration::from_secs(5), || !d.exists()),
                "{name}: {} left after delete",
                d.display()
            );
        }
        if name == "moat" {
            // moat also removes the parent it created.
            assert!(!Path::new("/sys/fs/cgroup/pids").join(&parent.0).exists());
        }
        seen.push((name, values));
    }
    assert_eq!(
        seen[0].1,
        [
            "268435456",
            "134217728",
            "64",
            "512",
            "50000",
            "100000",
            "0",
            "0"
        ],
        "{seen:?}"
    );
    for s in &seen[1..] {
        assert_eq!(s.1, seen[0].1, "{seen:?}");
    }
}

/// Without cgroupsPath, and with a relative one, the cgroup is where runc puts it: below the
/// caller's own cgroup.
#[test]
fn default_and_relative_paths_like_runc() {
    require_root!();
    let mut seen = Vec::new();
    for (name, env) in runtimes("cg-path") {
        let mut dirs = Vec::new();
        for path in [None, Some("moat-test-rel")] {
            let b = small_bundle(&env, &format!("b{}", dirs.len()), &["/bin/sleep", "100"]);
            let id = env.new_id();
            let mut c = b.config();
            if let Some(p) = path {
                c["linux"]["cgroupsPath"] = json!(format!("{p}/{id}"));
            }
            b.write_config(&c);
            assert!(env
                .moat(&["create", "--bundle", b.dir.to_str().unwrap(), &id])
                .success());
            let pid = state_pid(&env, &id);
            let d = cgroup_dir(pid, "pids").unwrap();
            let mine = cgroup_dir(std::process::id() as i32, "pids").unwrap();
            let rel = d
                .strip_prefix(&mine)
                .map(|r| r.to_string_lossy().replace(&id, "ID"))
                .unwrap_or_else(|_| format!("outside: {}", d.display()));
            dirs.push(rel);
            assert!(env.moat(&["delete", "-f", &id]).success());
            assert!(
                wait_until(Duration::from_secs(5), || !d.exists()),
                "{name}: {d:?}"
            );
            // runc leaves the parent it created, in every hierarchy.
            for ctl in [
                "",
                "pids",
                "memory",
                "cpu",
                "cpuacct",
                "cpuset",
                "devices",
                "freezer",
                "blkio",
                "hugetlb",
                "net_cls",
                "net_prio",
                "perf_event",
                "rdma",
                "misc",
                "name=systemd",
            ] {
                if let Some(m) = cgroup_dir(std::process::id() as i32, ctl) {
                    let _ = std::fs::remove_dir(m.join("moat-test-rel"));
                }
            }
        }
        seen.push((name, dirs));
    }
    assert_eq!(seen[0].1, ["ID", "moat-test-rel/ID"], "{seen:?}");
    for s in &seen[1..] {
        assert_eq!(s.1, seen[0].1, "{seen:?}");
    }
}

/// A fork bomb meets pids.max: forks fail inside the sandbox, the number of host tasks never
/// passes the limit, and the container ends normally.
#[test]
fn pids_limit_holds() {
    require_root!();
    let parent = Parent::new("pids");
    let env = TestEnv::new("cg-pids");
    let b = small_bundle(
        &env,
        "b",
        &[
            "/bin/sh",
            "-c",
            "i=0; while [ $i -lt 200 ]; do sleep 5 & i=$((i+1)); done",
        ],
    );
    let id = env.new_id();
    let mut c = b.config();
    c["linux"]["cgroupsPath"] = json!(format!("/{}/{id}", parent.0));
    c["linux"]["resources"] = json!({"pids": {"limit": 16}});
    b.write_config(&c);
    let out = Capture::new();
    let mut create = spawn(
        &env,
        &["create", "--bundle", b.dir.to_str().unwrap(), &id],
        &out,
    );
    assert!(create.wait().unwrap().success(), "{}", out.text());
    let pid = state_pid(&env, &id);
    let dir = cgroup_dir(pid, "pids").unwrap();
    assert!(env.moat(&["start", &id]).success());
    assert!(wait_status(&env, &id, "stopped"), "{}", out.text());
    assert!(out.text().contains("can't fork"), "{}", out.text());
    let peak: u64 = read(&dir, "pids.peak").parse().unwrap_or(0);
    let events = read(&dir, "pids.events");
    assert!(peak <= 16, "pids.peak {peak}");
    assert!(
        events.contains("max") && !events.ends_with(" 0"),
        "{events}"
    );
    assert!(env.moat(&["delete", &id]).success());
}

/// A memory bomb meets memory.limit: the kernel kills the offending stub, the sentry reports
/// the workload process killed by SIGKILL (as with runc), and the sandbox lives on.
#[test]
fn memory_limit_holds_like_runc() {
    require_root!();
    let parent = Parent::new("mem");
    let mut seen = Vec::new();
    for (name, env) in runtimes("cg-mem") {
        let b = small_bundle(
            &env,
            "b",
            &[
                "/bin/sh",
                "-c",
                "awk 'BEGIN { s = \"x\"; while (1) s = s s }'; echo awk-exit=$?; sleep 100",
            ],
        );
        let id = env.new_id();
        let mut c = b.config();
        c["linux"]["cgroupsPath"] = json!(format!("/{}/{id}", parent.0));
        c["linux"]["resources"] = json!({"memory": {"limit": 67108864}});
        b.write_config(&c);
        let out = Capture::new();
        let mut create = spawn(
            &env,
            &["create", "--bundle", b.dir.to_str().unwrap(), &id],
            &out,
        );
        assert!(create.wait().unwrap().success(), "{}", out.text());
        assert!(env.moat(&["start", &id]).success());
        assert!(
            out.wait_for("awk-exit=", Duration::from_secs(20)),
            "{name}: {}",
            out.text()
        );
        let st = status(&env, &id);
        let ev = env.moat(&["events", "--stats", &id]);
        let failcnt = json(&ev)["data"]["memory"]["usage"]["failcnt"]
            .as_u64()
            .unwrap_or(0);
        assert!(failcnt > 0, "{name}: {}", ev.stdout);
        assert!(env.moat(&["delete", "-f", &id]).success());
        seen.push((name, out.text(), st));
    }
    assert_eq!(seen[0].1, "Killed\nawk-exit=137\n", "{seen:?}");
    assert_eq!(seen[0].2.as_deref(), Some("running"));
    for s in &seen[1..] {
        assert_eq!((&s.1, &s.2), (&seen[0].1, &seen[0].2), "{seen:?}");
    }
}

/// Pure cgroup v2: in a private mount namespace whose /sys/fs/cgroup is only the cgroup2
/// hierarchy (this host's v1 controllers unmounted there), moat finds the v2 layout, enables
/// the controllers it needs in the parent, puts the sandbox in the cgroup, writes `unified`
/// resources, reads v2 statistics, and removes the cgroup on delete. (The hybrid host's
/// cgroup2 hierarchy has only the hugetlb controller, so that is what the resources use.)
#[test]
fn cgroup_v2_only_view() {
    require_root!();
    if !Path::new("/sys/fs/cgroup/unified/cgroup.controllers").exists() {
        eprintln!("SKIP: no cgroup2 hierarchy at /sys/fs/cgroup/unified (not the hybrid layout)");
        return;
    }
    let env = TestEnv::new("cg-v2");
    let b = small_bundle(&env, "b", &["/bin/sleep", "1000"]);
    let id = env.new_id();
    let parent = format!("moat-test-{}-v2", std::process::id());
    let hugetlb = std::fs::read_to_string("/sys/fs/cgroup/unified/cgroup.controllers")
        .unwrap_or_default()
        .contains("hugetlb");
    let mut c = b.config();
    c["linux"]["cgroupsPath"] = json!(format!("/{parent}/{id}"));
    if hugetlb {
        c["linux"]["resources"] = json!({"unified": {"hugetlb.2MB.max": "0"}});
    }
    b.write_config(&c);
    let script = r#"set -e
        mount --make-rprivate /
        for m in $(awk '$9 == "cgroup" { print $5 }' /proc/self/mountinfo); do umount "$m"; done
        umount /sys/fs/cgroup/unified
        umount /sys/fs/cgroup
        mount -t cgroup2 none /sys/fs/cgroup
        M="$1"; R="$2"; B="$3"; ID="$4"; P="$5"
        "$M" --root "$R" create --bundle "$B" "$ID" </dev/null >/dev/null
        pid=$("$M" --root "$R" state "$ID" | sed -n 's/^ *"pid": \([0-9]*\),/\1/p')
        echo "cgroup=$(grep '^0::' /proc/$pid/cgroup)"
        echo "procs=$(cat /sys/fs/cgroup/$P/$ID/cgroup.procs | wc -l)"
        if [ -e "/sys/fs/cgroup/$P/$ID/hugetlb.2MB.max" ]; then
            echo "hugetlb=$(cat /sys/fs/cgroup/$P/$ID/hugetlb.2MB.max)"
        fi
        "$M" --root "$R" start "$ID"
        echo "stats=$("$M" --root "$R" events --stats "$ID" | head -c 40)"
        "$M" --root "$R" delete -f "$ID"
        [ -e "/sys/fs/cgroup/$P" ] && echo left || echo removed
    "#;
    let mut cmd = std::process::Command::new("unshare");
    cmd.arg("-m")
        .arg("sh")
        .arg("-c")
        .arg(script)
        .arg("sh")
        .arg(&env.bin)
        .arg(&env.root)
        .arg(&b.dir)
        .arg(&id)
        .arg(&parent);
    let o = moat_tests::run_with_timeout(cmd, env.timeout);
    assert!(o.success(), "{}", o.describe());
    let kv = moat_tests::kv_lines(&o.stdout);
    assert_eq!(
        kv.get("cgroup").map(String::as_str),
        Some(&*format!("0::/{parent}/{id}"))
    );
    assert!(
        kv.get("procs").is_some_and(|n| n.trim() != "0"),
        "{}",
        o.stdout
    );
    if hugetlb {
        assert_eq!(
            kv.get("hugetlb").map(String::as_str),
            Some("0"),
            "{}",
            o.stdout
        );
    }
    assert!(
        kv.get("stats")
            .is_some_and(|s| s.starts_with("{\"type\":\"stats\"")),
        "{}",
        o.stdout
    );
    assert!(o.stdout.trim_end().ends_with("removed"), "{}", o.stdout);
    assert!(!Path::new("/sys/fs/cgroup/unified").join(&parent).exists());
}

/// --systemd-cgroup: `slice:prefix:name` becomes the `.slice/.scope` directories systemd would
/// use (written by moat itself), removed on delete.
#[test]
fn systemd_cgroup_path() {
    require_root!();
    if !v1() {
        eprintln!("SKIP: written for this machine's cgroup v1 pids hierarchy");
        return;
    }
    let env = TestEnv::new("cg-systemd");
    let b = small_bundle(&env, "b", &["/bin/sleep", "1000"]);
    let id = env.new_id();
    let slice = format!("moattest{}-x.slice", std::process::id());
    let mut c = b.config();
    c["linux"]["cgroupsPath"] = json!(format!("{slice}:moat:{id}"));
    c["linux"]["resources"] = json!({"pids": {"limit": 33}});
    b.write_config(&c);
    let o = env.moat(&[
        "--systemd-cgroup",
        "create",
        "--bundle",
        b.dir.to_str().unwrap(),
        &id,
    ]);
    assert!(o.success(), "{}", o.describe());
    let top = format!("moattest{}.slice", std::process::id());
    let want = PathBuf::from("/sys/fs/cgroup/pids")
        .join(&top)
        .join(&slice)
        .join(format!("moat-{id}.scope"));
    assert_eq!(cgroup_dir(state_pid(&env, &id), "pids"), Some(want.clone()));
    assert_eq!(read(&want, "pids.max"), "33");
    assert!(env.moat(&["delete", "-f", &id]).success());
    assert!(!Path::new("/sys/fs/cgroup/pids").join(&top).exists());
    // A malformed systemd path is a config error.
    let mut c = b.config();
    c["linux"]["cgroupsPath"] = json!("not-a-systemd-path");
    b.write_config(&c);
    let id2 = env.new_id();
    let o = env.moat(&[
        "--systemd-cgroup",
        "create",
        "--bundle",
        b.dir.to_str().unwrap(),
        &id2,
    ]);
    assert_ne!(o.code, 0, "{}", o.describe());
    assert!(env.state(&id2).is_none());
}
