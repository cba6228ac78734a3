//! moat under a real containerd (Debian's, installed by `make deps`), through containerd's
//! own runc shim (`io.containerd.runc.v2`) with moat as the runc binary.
//!
//! The test starts a private containerd (its own config, root, state and socket under a temp
//! dir), imports an image it builds from the test rootfs (a docker-archive tar: no registry),
//! and drives it with `ctr`: `run` (output and exit status), `task exec`, `task ps`,
//! `task metrics`, `task pause`/`resume`, `task kill`. The config also declares the CRI runtime
//! `moat` (runtime_type io.containerd.runc.v2, BinaryName = moat), which is what Kubernetes
//! uses (docs/kubernetes.md); `ctr` talks to the task API directly and names the same binary
//! with `--runc-binary`, which fills the same runc option (BinaryName). Everything is stopped
//! and removed at the end.

mod cli_common;

use cli_common::*;
use moat_tests::containerd::{
    base_config, busybox_rootfs, docker_archive, missing_containerd, Containerd,
};
use moat_tests::{moat_bin, require_root, wait_until};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

const NS: &str = "moat-test";
const IMAGE: &str = "moat.test/busybox:latest";

/// Builds a docker-archive image tar of the busybox part of the test rootfs.
fn build_image(dir: &Path) -> PathBuf {
    let rootfs = dir.join("img-rootfs");
    busybox_rootfs(&rootfs, &[]);
    docker_archive(&dir.join("img"), &rootfs, IMAGE, &[], &["/bin/sh"])
}

/// The private containerd of this test, with the CRI runtime `moat`; the test's tasks are
/// killed and removed on drop, before containerd stops.
struct Ctd {
    ctd: Containerd,
    dir: PathBuf,
    moat: PathBuf,
}

impl Ctd {
    fn start(dir: &Path) -> Ctd {
        let moat = moat_bin();
        let d = dir.display();
        let config = format!(
            r#"{base}[plugins."io.containerd.grpc.v1.cri"]
  disable_tcp_service = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{d}/cni-bin"
    conf_dir = "{d}/cni-conf"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.moat]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.moat.options]
        BinaryName = "{}"
"#,
            moat.display(),
            base = base_config(dir),
        );
        Ctd {
            ctd: Containerd::start(dir, NS, &config),
            dir: dir.to_path_buf(),
            moat,
        }
    }

    fn ctr_cmd(&self, args: &[&str]) -> std::process::Command {
        self.ctd.ctr_cmd(args)
    }

    fn ctr(&self, args: &[&str]) -> moat_tests::Output {
        self.ctd.ctr(args)
    }

    /// `ctr run` options that select moat through the runc shim.
    fn runtime_args(&self) -> Vec<String> {
        vec![
            "--runtime".into(),
            "io.containerd.runc.v2".into(),
            "--runc-binary".into(),
            self.moat.display().to_string(),
            "--runc-root".into(),
            self.dir.join("runc").display().to_string(),
        ]
    }

    fn log(&self) -> String {
        self.ctd.log()
    }
}

impl Drop for Ctd {
    fn drop(&mut self) {
        for t in ["c1", "c2"] {
            let _ = self.ctr(&["task", "kill", "--signal", "KILL", t]);
            let _ = self.ctr(&["task", "rm", "-f", t]);
            let _ = self.ctr(&["container", "rm", t]);
        }
    }
}

#[test]
fn containerd_runc_shim_with_moat() {
    require_root!();
    if let Some(missing) = missing_containerd() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{missing} not installed (make deps installs containerd)"
        );
        eprintln!("SKIP: {missing} not installed");
        return;
    }
    let dir = PathBuf::from(format!("/tmp/moat-ctd-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    let ctd = Ctd::start(&dir);

    // The CRI runtime `moat` (what a RuntimeClass selects) is loaded with moat as BinaryName.
    let plugins = ctd.ctr(&["plugins", "ls"]);
    assert!(
        plugins
            .stdout
            .lines()
            .any(|l| l.contains(" cri ") && l.trim_end().ends_with("ok")),
        "{}",
        plugins.describe()
    );
    assert!(ctd
        .log()
        .contains(&format!("BinaryName:{}", ctd.moat.display())));

    ctd.ctd.import(&build_image(&dir));

    // 1. ctr run: output and exit status, and it ran in moat (the sentry's uname).
    let rt = ctd.runtime_args();
    let mut args: Vec<&str> = vec!["run", "--rm"];
    args.extend(rt.iter().map(String::as_str));
    args.extend([
        IMAGE,
        "c1",
        "sh",
        "-c",
        "echo hello from containerd; uname -r; exit 3",
    ]);
    let o = ctd.ctr(&args);
    assert_eq!(o.code, 3, "ctr run: {}", o.describe());
    assert_eq!(
        o.stdout,
        format!(
            "hello from containerd\n{}\n",
            moat_tests::expected_release()
        ),
        "{}",
        o.describe()
    );

    // 2. A long-running task.
    let mut args: Vec<&str> = vec!["run", "-d"];
    args.extend(rt.iter().map(String::as_str));
    args.extend([
        IMAGE,
        "c2",
        "sh",
        "-c",
        "trap 'exit 0' TERM; while :; do sleep 0.2; done",
    ]);
    let o = ctd.ctr(&args);
    assert!(o.success(), "ctr run -d: {}", o.describe());
    let task_status = || {
        ctd.ctr(&["task", "ls"])
            .stdout
            .lines()
            .find(|l| l.starts_with("c2 "))
            .map(|l| l.split_whitespace().last().unwrap_or("").to_string())
            .unwrap_or_default()
    };
    assert!(
        wait_until(Duration::from_secs(20), || task_status() == "RUNNING"),
        "{}",
        ctd.ctr(&["task", "ls"]).describe()
    );

    // 3. task exec: output and status.
    let o = ctd.ctr(&[
        "task",
        "exec",
        "--exec-id",
        "e1",
        "c2",
        "sh",
        "-c",
        "echo in-exec; exit 5",
    ]);
    assert_eq!(
        (o.code, o.stdout.as_str()),
        (5, "in-exec\n"),
        "{}",
        o.describe()
    );

    // 4. A long exec, seen by task ps, then killed with task kill --exec-id.
    let out = Capture::new();
    let mut long = ctd
        .ctr_cmd(&["task", "exec", "--exec-id", "e2", "c2", "sleep", "1000"])
        .stdin(Stdio::null())
        .stdout(out.stdio())
        .stderr(out.stdio())
        .spawn()
        .unwrap();
    let ps_pids = || -> Vec<String> {
        ctd.ctr(&["task", "ps", "c2"])
            .stdout
            .lines()
            .skip(1)
            .filter_map(|l| l.split_whitespace().next().map(str::to_string))
            .collect()
    };
    assert!(
        wait_until(Duration::from_secs(20), || ps_pids().len() >= 3),
        "task ps: {:?}",
        ps_pids()
    );
    // moat reports the sandbox's virtual pids: init is 1.
    assert!(ps_pids().contains(&"1".to_string()), "{:?}", ps_pids());
    let o = ctd.ctr(&["task", "kill", "--exec-id", "e2", "--signal", "KILL", "c2"]);
    assert!(o.success(), "task kill --exec-id: {}", o.describe());
    let ended = wait_until(Duration::from_secs(20), || {
        long.try_wait().ok().flatten().is_some()
    });
    assert!(ended, "the exec'd process did not end: {}", out.text());
    let st = long.wait().unwrap();
    assert_eq!(st.code(), Some(137), "{}", out.text());

    // 5. task metrics: usage read from the sandbox's cgroup.
    let o = ctd.ctr(&["task", "metrics", "--format", "json", "c2"]);
    assert!(o.success(), "metrics: {}", o.describe());
    let m = json(&o);
    let pids = m["pids"]["current"].as_u64().unwrap_or(0);
    let cpu = m["cpu"]["usage"]["total"].as_u64().unwrap_or(0);
    let mem = m["memory"]["usage"]["usage"].as_u64().unwrap_or(0);
    assert!(pids >= 2 && cpu > 0 && mem > 0, "metrics: {m}");

    // 6. pause / resume.
    assert!(ctd.ctr(&["task", "pause", "c2"]).success());
    assert!(wait_until(Duration::from_secs(10), || task_status() == "PAUSED"));
    assert!(ctd.ctr(&["task", "resume", "c2"]).success());
    assert!(wait_until(Duration::from_secs(10), || task_status() == "RUNNING"));

    // 7. task kill (SIGTERM to init, which traps it and exits 0).
    let o = ctd.ctr(&["task", "kill", "c2"]);
    assert!(o.success(), "task kill: {}", o.describe());
    assert!(
        wait_until(Duration::from_secs(20), || task_status() == "STOPPED"),
        "{}",
        ctd.ctr(&["task", "ls"]).describe()
    );
    let o = ctd.ctr(&["task", "rm", "c2"]);
    assert!(o.success(), "task rm: {}", o.describe());
    assert!(ctd.ctr(&["container", "rm", "c2"]).success());

    // Nothing of moat is left: no state under the runc root, no sandbox process.
    let runc_root = dir.join("runc").join(NS);
    let left: Vec<_> = fs::read_dir(&runc_root)
        .map(|r| r.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(
        left.is_empty(),
        "state left in {}: {left:?}",
        runc_root.display()
    );
    assert!(
        wait_until(Duration::from_secs(10), || moat_tests::processes_matching(
            "boot --id c2"
        )
        .is_empty()),
        "{:?}",
        moat_tests::processes_matching("boot --id c2")
    );
    drop(ctd);
    assert!(
        !dir.exists() || std::env::var_os("MOAT_TEST_KEEP").is_some(),
        "{} left",
        dir.display()
    );
}
