//! containerd-shim-moat-v1 under a real containerd (Debian's 1.6, installed by `make deps`),
//! driven with `ctr --runtime io.containerd.moat.v1`.
//!
//! A private containerd (config, root, state and sockets under a temp dir; the CRI plugin off)
//! finds the shim and moat on its PATH: this package's shim binary's directory and moat's come
//! first. An image built from the test rootfs is imported (a docker-archive tar: no registry).
//! The test proves: `ctr run --rm` output and exit status (and that moat ran it: the sentry's
//! `uname -r`), a detached task with an options file (`--runtime-config-path`: its `root` is
//! where moat's state appears), `task exec` output and status, a long exec killed by
//! `task kill --exec-id`, `task ps` (virtual pids), `task metrics` (cpu, memory, pids from the
//! cgroup), `Update` and the errors of bad requests straight over the shim's ttrpc socket (ctr
//! 1.6 has no `task update`), `task pause`/`resume`, `task kill`, `task rm`; one shim for a pod's containers (CRI
//! annotations), a clear error for an unknown pod sandbox and for a malformed options file; and
//! that nothing is left: no moat state, no sandbox process, no shim.

use containerd_shim::protos::protobuf::well_known_types::any::Any;
use containerd_shim::protos::protobuf::MessageField;
use containerd_shim::protos::shim::shim::{
    DeleteRequest, KillRequest, StateRequest, UpdateTaskRequest,
};
use containerd_shim::protos::ttrpc::{self, context, Code};
use containerd_shim::protos::TaskClient;
use moat_tests::containerd::{
    base_config, busybox_rootfs, docker_archive, find_program, Containerd,
};
use moat_tests::{moat_bin, processes_matching, require_root, wait_until, Output};
use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

const NS: &str = "moat-shim-test";
const IMAGE: &str = "moat.test/shim-busybox:latest";
const RUNTIME: &str = "io.containerd.moat.v1";
const TYPE: &str = "io.kubernetes.cri.container-type";
const SANDBOX: &str = "io.kubernetes.cri.sandbox-id";
/// Every task the test makes (removed on drop if a step failed).
const TASKS: [&str; 5] = ["c1", "c2", "p1", "a1", "bad"];

fn shim_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_containerd-shim-moat-v1"))
}

struct Ctd {
    ctd: Containerd,
}

impl Ctd {
    fn ctr(&self, args: &[&str]) -> Output {
        self.ctd.ctr(args)
    }

    fn status(&self, id: &str) -> String {
        self.ctr(&["task", "ls"])
            .stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(id))
            .and_then(|l| l.split_whitespace().last().map(str::to_string))
            .unwrap_or_default()
    }

    fn wait_status(&self, id: &str, want: &str) {
        assert!(
            wait_until(Duration::from_secs(20), || self.status(id) == want),
            "{id} is not {want}: {}\n{}",
            self.ctr(&["task", "ls"]).describe(),
            self.ctd.log()
        );
    }

    /// `ctr run ARGS` with the moat runtime.
    fn run(&self, args: &[&str]) -> Output {
        let mut a = vec!["run", "--runtime", RUNTIME];
        a.extend_from_slice(args);
        self.ctr(&a)
    }
}

impl Drop for Ctd {
    fn drop(&mut self) {
        for t in TASKS {
            let _ = self.ctr(&["task", "kill", "--signal", "KILL", t]);
        }
        for t in TASKS {
            let _ = self.ctr(&["task", "rm", "-f", t]);
            let _ = self.ctr(&["container", "rm", t]);
        }
    }
}

fn json(o: &Output) -> Value {
    serde_json::from_str(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", o.describe()))
}

fn entries(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .map(|r| {
            r.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn shims() -> Vec<(i32, String)> {
    processes_matching(&format!("containerd-shim-moat-v1 -namespace {NS} "))
}

#[test]
fn ctr_with_the_moat_shim() {
    require_root!();
    if find_program("containerd").is_none() || find_program("ctr").is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "containerd and ctr are not installed (make deps installs them)"
        );
        eprintln!("SKIP: containerd or ctr not installed");
        return;
    }
    let shim = shim_bin();
    assert!(shim.is_file(), "{} not built", shim.display());
    let v = std::process::Command::new(&shim)
        .arg("-v")
        .output()
        .unwrap();
    let v = String::from_utf8_lossy(&v.stdout);
    assert!(
        v.contains("containerd-shim-moat-v1") && v.contains(RUNTIME),
        "{v}"
    );

    let moat = moat_bin();
    let dir = PathBuf::from(format!("/tmp/moat-shim-ctd-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    // containerd looks for containerd-shim-moat-v1 on its PATH, and the shim runs `moat` from
    // its own (the default binary_name). This test binary runs this one test: changing its
    // environment races with nothing.
    let path = std::env::join_paths(
        [shim.parent().unwrap(), moat.parent().unwrap()]
            .into_iter()
            .map(Path::to_path_buf)
            .chain(std::env::split_paths(
                &std::env::var_os("PATH").unwrap_or_default(),
            )),
    )
    .unwrap();
    std::env::set_var("PATH", path);
    // The CRI plugin is not needed (ctr talks to the task API) and would open a port.
    let config = format!(
        "disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n{}",
        base_config(&dir)
    );
    let ctd = Ctd {
        ctd: Containerd::start(&dir, NS, &config),
    };
    let rootfs = dir.join("img-rootfs");
    busybox_rootfs(&rootfs, &[]);
    ctd.ctd.import(&docker_archive(
        &dir.join("img"),
        &rootfs,
        IMAGE,
        &[],
        &["/bin/sh"],
    ));

    // 1. ctr run --rm with default options: output, exit status, and the sentry's uname.
    let release = moat_tests::expected_release();
    assert_ne!(release, moat_tests::host_release());
    let o = ctd.run(&["--rm", IMAGE, "c1", "sh", "-c", "echo hi; uname -r; exit 3"]);
    assert_eq!(o.code, 3, "ctr run: {}\n{}", o.describe(), ctd.ctd.log());
    assert_eq!(o.stdout, format!("hi\n{release}\n"), "{}", o.describe());
    // The default root is /run/moat/<namespace>: nothing of c1 is left there.
    let default_root = Path::new("/run/moat").join(NS);
    assert!(
        entries(&default_root).is_empty(),
        "{:?}",
        entries(&default_root)
    );

    // 2. A detached task with an options file: moat's state goes to its root.
    let root = dir.join("moat-root");
    let opts = dir.join("shim.toml");
    fs::write(
        &opts,
        format!(
            "root = \"{}\"\ndebug = true\noverlay = \"memory\"\n",
            root.display()
        ),
    )
    .unwrap();
    let optsp = opts.to_str().unwrap();
    let o = ctd.run(&[
        "-d",
        "--runtime-config-path",
        optsp,
        IMAGE,
        "c2",
        "sh",
        "-c",
        "trap 'exit 0' TERM; while :; do sleep 0.2; done",
    ]);
    assert!(
        o.success(),
        "ctr run -d: {}\n{}",
        o.describe(),
        ctd.ctd.log()
    );
    ctd.wait_status("c2", "RUNNING");
    assert!(
        root.join(NS).join("c2/state.json").is_file(),
        "no moat state under the options' root {}",
        root.display()
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

    // 4. A long exec, seen by task ps (the sandbox's virtual pids: init is 1), killed through
    // the shim (kill(2) on the exec's host process, which forwards it).
    let out = dir.join("e2.out");
    let mut long = ctd
        .ctd
        .ctr_cmd(&["task", "exec", "--exec-id", "e2", "c2", "sleep", "1000"])
        .stdin(Stdio::null())
        .stdout(fs::File::create(&out).unwrap())
        .stderr(fs::File::create(dir.join("e2.err")).unwrap())
        .spawn()
        .unwrap();
    let pids = || -> Vec<String> {
        ctd.ctr(&["task", "ps", "c2"])
            .stdout
            .lines()
            .skip(1)
            .filter_map(|l| l.split_whitespace().next().map(str::to_string))
            .collect()
    };
    assert!(
        wait_until(Duration::from_secs(20), || pids().len() >= 3),
        "task ps: {:?}",
        pids()
    );
    assert!(pids().contains(&"1".to_string()), "{:?}", pids());
    let o = ctd.ctr(&["task", "kill", "--exec-id", "e2", "--signal", "KILL", "c2"]);
    assert!(o.success(), "task kill --exec-id: {}", o.describe());
    assert!(
        wait_until(Duration::from_secs(20), || long
            .try_wait()
            .ok()
            .flatten()
            .is_some()),
        "the exec'd process did not end"
    );
    assert_eq!(long.wait().unwrap().code(), Some(137));

    // 5. task metrics: the cgroup's usage, in containerd's v1 or v2 type.
    let o = ctd.ctr(&["task", "metrics", "--format", "json", "c2"]);
    assert!(o.success(), "metrics: {}", o.describe());
    let m = json(&o);
    let pids_now = m["pids"]["current"].as_u64().unwrap_or(0);
    let cpu = m["cpu"]["usage"]["total"]
        .as_u64()
        .or(m["cpu"]["usage_usec"].as_u64())
        .unwrap_or(0);
    let mem = m["memory"]["usage"]["usage"]
        .as_u64()
        .or(m["memory"]["usage"].as_u64())
        .unwrap_or(0);
    assert!(pids_now >= 2 && cpu > 0 && mem > 0, "metrics: {m}");

    // 5b. Straight to the shim's ttrpc socket (what containerd does): Update, and the errors of
    // bad requests. (ctr 1.6 has no `task update`.)
    let addr =
        containerd_shim::socket_address(dir.join("containerd.sock").to_str().unwrap(), NS, "c2");
    let task = TaskClient::new(ttrpc::Client::connect(&addr).expect("connect to the shim"));
    let ctx = || context::with_timeout(30_000_000_000);
    let status = |r: std::result::Result<String, ttrpc::Error>| match r {
        Err(ttrpc::Error::RpcStatus(s)) => (s.code(), s.message().to_string()),
        other => panic!("expected an error status, got {other:?}"),
    };
    let (code, msg) = status(
        task.state(
            ctx(),
            &StateRequest {
                id: "nope".into(),
                ..Default::default()
            },
        )
        .map(|r| format!("{r:?}")),
    );
    assert_eq!(code, Code::NOT_FOUND, "{msg}");
    assert_eq!(msg, "container nope not found in this shim");
    let (code, msg) = status(
        task.kill(
            ctx(),
            &KillRequest {
                id: "c2".into(),
                exec_id: "no-exec".into(),
                signal: 9,
                ..Default::default()
            },
        )
        .map(|r| format!("{r:?}")),
    );
    assert_eq!(code, Code::NOT_FOUND, "{msg}");
    assert!(
        msg.contains("exec no-exec not found in container c2"),
        "{msg}"
    );
    let (code, msg) = status(
        task.delete(
            ctx(),
            &DeleteRequest {
                id: "c2".into(),
                ..Default::default()
            },
        )
        .map(|r| format!("{r:?}")),
    );
    assert_eq!(code, Code::FAILED_PRECONDITION, "{msg}");
    assert!(msg.contains("it is running"), "{msg}");
    let limit: u64 = 256 << 20;
    let resources = Any {
        type_url: "types.containerd.io/opencontainers/runtime-spec/1/LinuxResources".into(),
        value: format!("{{\"memory\":{{\"limit\":{limit}}}}}").into_bytes(),
        ..Default::default()
    };
    task.update(
        ctx(),
        &UpdateTaskRequest {
            id: "c2".into(),
            resources: MessageField::some(resources),
            ..Default::default()
        },
    )
    .expect("update");
    let m = json(&ctd.ctr(&["task", "metrics", "--format", "json", "c2"]));
    let got = m["memory"]["usage"]["limit"]
        .as_u64()
        .or(m["memory"]["usage_limit"].as_u64());
    assert_eq!(got, Some(limit), "metrics after update: {m}");
    drop(task);

    // 6. pause / resume.
    assert!(ctd.ctr(&["task", "pause", "c2"]).success());
    ctd.wait_status("c2", "PAUSED");
    assert!(ctd.ctr(&["task", "resume", "c2"]).success());
    ctd.wait_status("c2", "RUNNING");

    // 7. One shim per pod: a sandbox container and an app container naming it (the CRI
    // plugin's annotations) are served by one shim process.
    let before = shims().len();
    let st = format!("{TYPE}=sandbox");
    let ct = format!("{TYPE}=container");
    let sp1 = format!("{SANDBOX}=p1");
    let o = ctd.run(&[
        "-d",
        "--runtime-config-path",
        optsp,
        "--annotation",
        &st,
        "--annotation",
        &sp1,
        IMAGE,
        "p1",
        "sleep",
        "1000",
    ]);
    assert!(o.success(), "pod sandbox: {}", o.describe());
    let o = ctd.run(&[
        "-d",
        "--runtime-config-path",
        optsp,
        "--annotation",
        &ct,
        "--annotation",
        &sp1,
        IMAGE,
        "a1",
        "sleep",
        "1000",
    ]);
    assert!(
        o.success(),
        "pod container: {}\n{}",
        o.describe(),
        ctd.ctd.log()
    );
    ctd.wait_status("p1", "RUNNING");
    ctd.wait_status("a1", "RUNNING");
    assert_eq!(shims().len(), before + 1, "{:?}", shims());
    // ...and by one sentry: the app container joined the sandbox's.
    assert!(
        !processes_matching("boot --id p1").is_empty(),
        "no sentry for p1"
    );
    assert!(
        processes_matching("boot --id a1").is_empty(),
        "a1 got a sentry of its own"
    );
    // An app container whose sandbox has no shim: a clear error, nothing made.
    let sx = format!("{SANDBOX}=no-such-pod");
    let o = ctd.run(&[
        "--rm",
        "--annotation",
        &ct,
        "--annotation",
        &sx,
        IMAGE,
        "bad",
        "true",
    ]);
    assert!(
        !o.success()
            && o.stderr
                .contains("pod sandbox no-such-pod has no running moat shim"),
        "{}",
        o.describe()
    );
    // The sandbox's end is the pod's end: a1 stops with it.
    assert!(ctd
        .ctr(&["task", "kill", "--signal", "KILL", "p1"])
        .success());
    ctd.wait_status("p1", "STOPPED");
    ctd.wait_status("a1", "STOPPED");
    // An app container whose sandbox is gone (its shim still serves the pod): a clear error,
    // nothing made, the pod's other containers untouched.
    let o = ctd.run(&[
        "--rm",
        "--runtime-config-path",
        optsp,
        "--annotation",
        &ct,
        "--annotation",
        &sp1,
        IMAGE,
        "a2",
        "true",
    ]);
    assert!(
        !o.success() && o.stderr.contains("pod sandbox p1 has stopped"),
        "{}",
        o.describe()
    );
    assert_eq!(ctd.ctr(&["task", "ls"]).stdout.matches("a2").count(), 0);
    for t in ["a1", "p1"] {
        assert!(ctd.ctr(&["task", "rm", t]).success());
        assert!(ctd.ctr(&["container", "rm", t]).success());
    }

    // 8. task kill (SIGTERM to init, which traps it and exits 0), task rm.
    let o = ctd.ctr(&["task", "kill", "c2"]);
    assert!(o.success(), "task kill: {}", o.describe());
    ctd.wait_status("c2", "STOPPED");
    let o = ctd.ctr(&["task", "rm", "c2"]);
    assert!(o.success(), "task rm: {}", o.describe());
    assert!(ctd.ctr(&["container", "rm", "c2"]).success());

    // 9. A malformed options file: containerd reports the shim's words; nothing is left.
    let bad = dir.join("bad.toml");
    fs::write(&bad, "debug = tru\n").unwrap();
    let o = ctd.run(&[
        "--rm",
        "--runtime-config-path",
        bad.to_str().unwrap(),
        IMAGE,
        "bad",
        "true",
    ]);
    assert!(!o.success(), "{}", o.describe());
    assert!(
        o.stderr
            .contains(&format!("moat shim options file {}", bad.display())),
        "{}",
        o.describe()
    );
    let o = ctd.ctr(&["container", "ls", "-q"]);
    assert_eq!(o.stdout.trim(), "", "{}", o.describe());

    // Nothing left: no moat state under either root, no sandbox process, no shim.
    assert!(
        entries(&root.join(NS)).is_empty(),
        "{:?}",
        entries(&root.join(NS))
    );
    assert!(
        entries(&default_root).is_empty(),
        "{:?}",
        entries(&default_root)
    );
    let _ = fs::remove_dir(&default_root);
    let boots = || {
        let mut v = processes_matching(&format!("--root {} ", root.join(NS).display()));
        v.extend(processes_matching(&format!(
            "--root {} ",
            default_root.display()
        )));
        v
    };
    assert!(
        wait_until(Duration::from_secs(10), || boots().is_empty()),
        "{:?}",
        boots()
    );
    assert!(
        wait_until(Duration::from_secs(10), || shims().is_empty()),
        "{:?}",
        shims()
    );
    drop(ctd);
    assert!(!dir.exists(), "{} left", dir.display());
}
