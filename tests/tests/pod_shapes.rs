//! Bundles shaped like a Kubernetes pod's app containers, as containerd's CRI plugin writes
//! them, run under moat and under runc (the reference), whose outputs must match:
//! - the network, IPC and UTS namespaces given as `/proc/<pause pid>/ns/*` paths (the pod's
//!   hostname and its loopback services are the pause process's);
//! - `process.oomScoreAdj`, inside and on the host;
//! - a single-file bind mount (`/dev/termination-log`) written inside reaches the host file;
//! - a shared read-write directory shows what the host (or another sandbox) creates and
//!   removes there after the container first looked at it.

mod cli_common;

use cli_common::*;
use moat_tests::{require_root, wait_until, TempDir};
use serde_json::json;
use std::fs;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A stand-in for a pod's pause container: a process in new network, IPC and UTS namespaces,
/// with hostname `podhost` and an HTTP server on its own 127.0.0.1:8080.
struct PodHolder {
    child: Child,
}

impl PodHolder {
    fn start(dir: &std::path::Path) -> PodHolder {
        let www = dir.join("www");
        fs::create_dir_all(&www).unwrap();
        fs::write(www.join("index.html"), "served by the pod\n").unwrap();
        let child = Command::new("unshare")
            .args(["--net", "--uts", "--ipc", "/bin/sh", "-c"])
            .arg(
                "hostname podhost && busybox ip link set lo up && \
                 exec busybox httpd -f -p 127.0.0.1:8080 -h \"$1\"",
            )
            .arg("sh")
            .arg(&www)
            .stdin(Stdio::null())
            .spawn()
            .expect("start unshare");
        let h = PodHolder { child };
        let ns = format!("/proc/{}/ns/uts", h.child.id());
        let up = wait_until(Duration::from_secs(10), || {
            fs::read_link(&ns).ok() != fs::read_link("/proc/self/ns/uts").ok()
                && Command::new("nsenter")
                    .args(["--net", &format!("--target={}", h.child.id())])
                    .args(["busybox", "wget", "-q", "-O", "/dev/null"])
                    .arg("http://127.0.0.1:8080/")
                    .status()
                    .is_ok_and(|s| s.success())
        });
        assert!(up, "the pod holder did not come up");
        h
    }

    fn ns(&self, kind: &str) -> String {
        format!("/proc/{}/ns/{kind}", self.child.id())
    }
}

impl Drop for PodHolder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn have_unshare() -> bool {
    Command::new("unshare")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn joins_the_pods_namespaces_by_path() {
    require_root!();
    if !have_unshare() {
        eprintln!("SKIP: unshare is not installed");
        return;
    }
    let tmp = TempDir::new("pod-ns");
    let pod = PodHolder::start(tmp.path());
    let outs = outputs_under_each(
        "pod-ns",
        &[
            "sh",
            "-c",
            "hostname; wget -q -O - http://127.0.0.1:8080/; echo $?; cat /proc/self/oom_score_adj",
        ],
        |c, _| {
            // What containerd gives an app container: no hostname of its own, the pod's
            // namespaces by path, the oomScoreAdj kubelet computed.
            c.as_object_mut().unwrap().remove("hostname");
            c["process"]["oomScoreAdj"] = json!(937);
            c["linux"]["namespaces"] = json!([
                {"type": "pid"}, {"type": "mount"},
                {"type": "ipc", "path": pod.ns("ipc")},
                {"type": "uts", "path": pod.ns("uts")},
                {"type": "network", "path": pod.ns("net")},
            ]);
        },
    );
    assert_eq!(
        outs[0].1, "exit 0\npodhost\nserved by the pod\n0\n937\n",
        "moat"
    );
    assert_same_outputs(&outs);
}

#[test]
fn oom_score_adj_reaches_the_host() {
    require_root!();
    for (name, env) in runtimes("pod-oom") {
        let b = small_bundle(&env, "bundle", &["sleep", "100"]);
        let mut c = b.config();
        // Positive: lowering it needs CAP_SYS_RESOURCE, which root may lack (then runc fails
        // too).
        c["process"]["oomScoreAdj"] = json!(500);
        b.write_config(&c);
        let id = env.new_id();
        let o = env.moat(&["create", "--bundle", b.dir.to_str().unwrap(), &id]);
        assert!(o.success(), "{name} create: {}", o.describe());
        let pid = state_pid(&env, &id);
        let adj = fs::read_to_string(format!("/proc/{pid}/oom_score_adj")).unwrap_or_default();
        assert_eq!(adj.trim(), "500", "{name}: the sandbox process (pid {pid})");
        let o = env.moat(&["delete", "-f", &id]);
        assert!(o.success(), "{name} delete: {}", o.describe());
    }
}

#[test]
fn file_bind_mount_and_shared_dir_are_the_hosts() {
    require_root!();
    let script = "cat /dev/termination-log; echo 'exit reason' > /dev/termination-log; \
         ls /shared; echo from-inside > /shared/inside; \
         while [ ! -e /shared/later ]; do sleep 0.05; done; \
         ls /shared; cat /shared/later; wc -c < /shared/grows; \
         while [ -e /shared/doomed ]; do sleep 0.05; done; ls /shared";
    let mut outs = Vec::new();
    for (name, env) in runtimes("pod-binds") {
        let host = env.dir().join("host");
        let shared = host.join("shared");
        fs::create_dir_all(&shared).unwrap();
        let log = host.join("termination-log");
        fs::write(&log, "before\n").unwrap();
        fs::write(shared.join("grows"), "12345").unwrap();
        fs::write(shared.join("doomed"), "x").unwrap();
        let b = small_bundle(&env, "bundle", &["sh", "-c", script]);
        let mut c = b.config();
        c["mounts"].as_array_mut().unwrap().extend([
            json!({"destination": "/dev/termination-log", "type": "bind",
                   "source": log, "options": ["rbind", "rw"]}),
            json!({"destination": "/shared", "type": "bind",
                   "source": shared, "options": ["rbind", "rw"]}),
        ]);
        b.write_config(&c);
        // The host (standing in for another container of the pod) changes the directory
        // once the container has listed it and written its own file.
        let changer = {
            let shared = shared.clone();
            std::thread::spawn(move || {
                let seen = wait_until(Duration::from_secs(30), || shared.join("inside").exists());
                fs::write(shared.join("grows"), "1234567890").unwrap();
                fs::write(shared.join("later"), "made on the host\n").unwrap();
                std::thread::sleep(Duration::from_millis(300));
                fs::remove_file(shared.join("doomed")).unwrap();
                seen
            })
        };
        let (_, o) = env.run_bundle(&b);
        assert!(
            changer.join().unwrap(),
            "{name}: /shared/inside never appeared on the host"
        );
        assert!(!o.timed_out, "{name}: {}", o.describe());
        assert_eq!(
            fs::read_to_string(&log).unwrap(),
            "exit reason\n",
            "{name}: the termination log on the host"
        );
        assert_eq!(
            fs::read_to_string(shared.join("inside")).unwrap(),
            "from-inside\n",
            "{name}"
        );
        outs.push((name, format!("exit {}\n{}", o.code, o.stdout)));
    }
    assert_eq!(
        outs[0].1,
        "exit 0\nbefore\ndoomed\ngrows\ndoomed\ngrows\ninside\nlater\nmade on the host\n10\ngrows\ninside\nlater\n",
        "moat"
    );
    assert_same_outputs(&outs);
}

/// `moat create --sandbox`: two app containers in one running sandbox's sentry. Each has its
/// own rootfs, process list and exit status; they share the pod's /dev/shm (one host
/// directory bind-mounted into both is one tree in the sentry); killing the sandbox ends them.
#[test]
fn app_containers_join_a_running_sandbox() {
    require_root!();
    let env = moat_tests::TestEnv::new("pod-join");
    let shm = env.dir().join("shm");
    fs::create_dir_all(&shm).unwrap();
    let with_shm = |b: &moat_tests::Bundle| {
        let mut c = b.config();
        c["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/dev/shm", "type": "bind", "source": shm, "options": ["rbind", "rw"]}));
        b.write_config(&c);
    };
    let sb = small_bundle(&env, "sandbox", &["sleep", "1000"]);
    with_shm(&sb);
    let sb_id = started_bundle(&env, &sb);
    let a = small_bundle(
        &env,
        "a",
        &["sh", "-c", "echo from-a > /dev/shm/a; while [ ! -e /dev/shm/b ]; do sleep 0.05; done; cat /dev/shm/b; exit 7"],
    );
    let b = small_bundle(
        &env,
        "b",
        &["sh", "-c", "echo from-b > /dev/shm/b; while [ ! -e /dev/shm/a ]; do sleep 0.05; done; cat /dev/shm/a; sleep 1000"],
    );
    with_shm(&a);
    with_shm(&b);
    let mut ids = Vec::new();
    for bundle in [&a, &b] {
        let id = env.new_id();
        let o = env.moat(&[
            "create",
            "--sandbox",
            &sb_id,
            "--bundle",
            bundle.dir.to_str().unwrap(),
            &id,
        ]);
        assert!(o.success(), "create --sandbox: {}", o.describe());
        assert_eq!(env.state(&id).unwrap()["sandbox"], json!(sb_id));
        ids.push(id);
    }
    // `moat list` names each member's sandbox.
    let list = env.moat(&["list"]);
    assert!(list.success(), "{}", list.describe());
    assert!(
        list.stdout
            .lines()
            .next()
            .is_some_and(|h| h.ends_with("SANDBOX")),
        "{}",
        list.stdout
    );
    for id in &ids {
        let row = list
            .stdout
            .lines()
            .find(|l| l.starts_with(id.as_str()))
            .unwrap_or_default();
        assert!(row.ends_with(sb_id.as_str()), "list row of {id}: {row:?}");
    }
    // Still one sandbox process.
    let sandboxes = moat_tests::processes_matching(&format!("boot --id {}", ids[0]));
    assert!(sandboxes.is_empty(), "{sandboxes:?}");
    for id in &ids {
        let o = env.moat(&["start", id]);
        assert!(o.success(), "start: {}", o.describe());
    }
    assert!(wait_status(&env, &ids[0], "stopped"), "a did not stop");
    let ps = env.moat(&["ps", "--format", "json", &ids[1]]);
    assert!(ps.success(), "{}", ps.describe());
    let procs = json(&ps);
    assert!(
        procs.as_array().is_some_and(|p| !p.is_empty()),
        "b's processes: {procs}"
    );
    assert_eq!(fs::read_to_string(shm.join("a")).unwrap(), "from-a\n");
    assert_eq!(status(&env, &ids[1]).as_deref(), Some("running"));
    // An unknown sandbox is a clear error and leaves nothing.
    let id = env.new_id();
    let o = env.moat(&[
        "create",
        "--sandbox",
        "no-such-pod",
        "--bundle",
        a.dir.to_str().unwrap(),
        &id,
    ]);
    assert!(
        !o.success() && o.stderr.contains("pod sandbox no-such-pod does not exist"),
        "{}",
        o.describe()
    );
    assert!(env.state(&id).is_none());
    // The sandbox's end is the pod's end.
    let o = env.moat(&["kill", &sb_id, "KILL"]);
    assert!(o.success(), "{}", o.describe());
    assert!(
        wait_status(&env, &ids[1], "stopped"),
        "b outlived its sandbox"
    );
}

/// Each app container of a pod has a pid namespace of its own (its init is pid 1, its /proc
/// shows only its processes, and a default SIGTERM from the runtime leaves a `sleep` init
/// running, as under runc), unless its spec joins the sandbox's pid namespace
/// (`shareProcessNamespace`), when it sees the pod's processes.
#[test]
fn app_containers_have_their_own_pid_namespace() {
    require_root!();
    let env = moat_tests::TestEnv::new("pod-pidns");
    let shm = env.dir().join("shm");
    fs::create_dir_all(&shm).unwrap();
    let with_shm = |b: &moat_tests::Bundle| {
        let mut c = b.config();
        c["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/dev/shm", "type": "bind", "source": shm, "options": ["rbind", "rw"]}));
        b.write_config(&c);
    };
    let sb = small_bundle(&env, "sandbox", &["sleep", "1000"]);
    with_shm(&sb);
    let sb_id = started_bundle(&env, &sb);
    let sb_pid = env.state(&sb_id).unwrap()["pid"].as_i64().unwrap();
    let script = |name: &str| {
        format!(
            "echo $$ > /dev/shm/{name}-pid; ls /proc > /dev/shm/{name}-ls; \
             grep '^[0-9]' /dev/shm/{name}-ls | tr '\\n' ' ' > /dev/shm/{name}-proc; \
             echo {name} > /dev/shm/{name}-done; exec sleep 1000"
        )
    };
    let own = small_bundle(&env, "own", &["sh", "-c", &script("own")]);
    with_shm(&own);
    let shared = small_bundle(&env, "shared", &["sh", "-c", &script("shared")]);
    with_shm(&shared);
    let mut c = shared.config();
    for ns in c["linux"]["namespaces"].as_array_mut().unwrap() {
        if ns["type"] == "pid" {
            ns["path"] = json!(format!("/proc/{sb_pid}/ns/pid"));
        }
    }
    shared.write_config(&c);
    let mut ids = Vec::new();
    for bundle in [&own, &shared] {
        let id = env.new_id();
        let o = env.moat(&[
            "create",
            "--sandbox",
            &sb_id,
            "--bundle",
            bundle.dir.to_str().unwrap(),
            &id,
        ]);
        assert!(o.success(), "create --sandbox: {}", o.describe());
        let o = env.moat(&["start", &id]);
        assert!(o.success(), "start: {}", o.describe());
        ids.push(id);
    }
    for name in ["own", "shared"] {
        assert!(
            wait_until(Duration::from_secs(20), || shm
                .join(format!("{name}-done"))
                .exists()),
            "{name} did not run"
        );
    }
    let read = |f: &str| fs::read_to_string(shm.join(f)).unwrap().trim().to_string();
    // Its own namespace: pid 1, and only itself and its child in /proc.
    assert_eq!(read("own-pid"), "1");
    assert_eq!(read("own-proc"), "1 2", "own container's /proc");
    // The sandbox's namespace: the pod's init (the sandbox's sleep) is pid 1 there.
    assert_ne!(read("shared-pid"), "1");
    let seen: Vec<String> = read("shared-proc").split(' ').map(String::from).collect();
    assert!(
        seen.contains(&"1".to_string()) && seen.len() >= 3,
        "shared /proc: {seen:?}"
    );
    // The container's cgroup holds its own host processes: the holder and the init's stub,
    // so its CPU and memory figures are the container's.
    let procs = ["pids", "unified", ""]
        .iter()
        .find_map(|c| {
            fs::read_to_string(format!("/sys/fs/cgroup/{c}/{}/cgroup.procs", ids[0])).ok()
        })
        .unwrap_or_default();
    assert!(
        procs.lines().count() >= 2,
        "the container's cgroup: {procs:?}"
    );
    // moat ps numbers processes as the container sees them.
    let ps = env.moat(&["ps", "--format", "json", &ids[0]]);
    assert!(ps.success(), "{}", ps.describe());
    assert_eq!(json(&ps), json!([1]), "ps of the own-namespace container");
    // A namespace's init ignores a signal it has no handler for, as under runc...
    let o = env.moat(&["kill", &ids[0], "TERM"]);
    assert!(o.success(), "{}", o.describe());
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(status(&env, &ids[0]).as_deref(), Some("running"));
    // ...but not SIGKILL; and the other container keeps running.
    let o = env.moat(&["kill", &ids[0], "KILL"]);
    assert!(o.success(), "{}", o.describe());
    assert!(wait_status(&env, &ids[0], "stopped"), "own did not stop");
    assert_eq!(status(&env, &ids[1]).as_deref(), Some("running"));
    for id in &ids {
        let o = env.moat(&["delete", "--force", id]);
        assert!(o.success(), "{}", o.describe());
    }
    let o = env.moat(&["delete", "--force", &sb_id]);
    assert!(o.success(), "{}", o.describe());
}

/// A container of the pod that the host's OOM killer kills (its own memory limit) stops with
/// SIGKILL; the sandbox and its other containers keep running, as in a runc pod.
#[test]
fn an_oom_killed_container_leaves_the_pod_running() {
    require_root!();
    let env = moat_tests::TestEnv::new("pod-oom");
    let sb = small_bundle(&env, "sandbox", &["sleep", "1000"]);
    let sb_id = started_bundle(&env, &sb);
    let calm = small_bundle(&env, "calm", &["sleep", "1000"]);
    // Doubles a string until the 64 MiB limit of its own cgroup stops it (after a second,
    // so that the test can find its cgroup first).
    let hungry = small_bundle(
        &env,
        "hungry",
        &[
            "sh",
            "-c",
            "sleep 1; exec awk 'BEGIN { s = \"xxxxxxxxxxxxxxxx\"; while (1) s = s s }'",
        ],
    );
    let mut c = hungry.config();
    c["linux"]["resources"] = json!({"memory": {"limit": 64 << 20, "swap": 64 << 20}});
    hungry.write_config(&c);
    let mut ids = Vec::new();
    for bundle in [&calm, &hungry] {
        let id = env.new_id();
        let o = env.moat(&[
            "create",
            "--sandbox",
            &sb_id,
            "--bundle",
            bundle.dir.to_str().unwrap(),
            &id,
        ]);
        assert!(o.success(), "create --sandbox: {}", o.describe());
        let o = env.moat(&["start", &id]);
        assert!(o.success(), "start: {}", o.describe());
        ids.push(id);
    }
    // Its memory cgroup, from its holder process (while it lives).
    let holder = env.state(&ids[1]).unwrap()["pid"].as_i64().unwrap();
    let memcg = fs::read_to_string(format!("/proc/{holder}/cgroup"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            let (_, rest) = l.split_once(':')?;
            let (ctrl, path) = rest.split_once(':')?;
            match ctrl {
                "memory" => Some(format!("/sys/fs/cgroup/memory{path}/memory.oom_control")),
                "" => Some(format!("/sys/fs/cgroup/unified{path}/memory.events")),
                _ => None,
            }
        });
    assert!(
        wait_status(&env, &ids[1], "stopped"),
        "the hungry container did not stop"
    );
    // It was the host's OOM killer, in the container's own cgroup.
    let kills = memcg
        .as_ref()
        .and_then(|f| fs::read_to_string(f).ok())
        .unwrap_or_default();
    assert!(
        kills
            .lines()
            .any(|l| l.strip_prefix("oom_kill ").is_some_and(|n| n.trim() != "0")),
        "no OOM kill in the container's cgroup ({memcg:?}): {kills:?}"
    );
    assert_eq!(status(&env, &ids[0]).as_deref(), Some("running"));
    assert_eq!(status(&env, &sb_id).as_deref(), Some("running"));
    let o = env.moat(&["exec", &ids[0], "echo", "alive"]);
    assert!(o.success() && o.stdout == "alive\n", "{}", o.describe());
    for id in ids.iter().chain([&sb_id]) {
        let o = env.moat(&["delete", "--force", id]);
        assert!(o.success(), "{}", o.describe());
    }
}
