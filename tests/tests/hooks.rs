//! OCI hooks: all six run at their point of the lifecycle with the state on stdin, their args
//! and env; failures and timeouts behave as the runtime spec says. Hooks that run in the
//! runtime's namespace (prestart, createRuntime, poststart, poststop) are compared with runc.

mod cli_common;

use cli_common::*;
use moat_tests::{processes_matching, require_root, wait_until, Bundle, TestEnv};
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant};

/// A hook that appends its name to `log` and saves its stdin as `<dir>/<name>.json`.
fn recorder(dir: &Path, name: &str) -> Value {
    json!({
        "path": "/bin/sh",
        "args": ["sh", "-c", "echo \"$HOOK $1\" >> \"$DIR/log\"; cat > \"$DIR/$HOOK.json\"", "sh", "arg1"],
        "env": [format!("DIR={}", dir.display()), format!("HOOK={name}")],
        "timeout": 10
    })
}

fn with_hooks(b: &Bundle, hooks: Value) {
    let mut c = b.config();
    c["hooks"] = hooks;
    b.write_config(&c);
}

fn saved(dir: &Path, name: &str) -> Value {
    let p = dir.join(format!("{name}.json"));
    serde_json::from_slice(&std::fs::read(&p).unwrap_or_default())
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Every hook, in lifecycle order, with the state it should see.
#[test]
fn all_hooks_in_order() {
    require_root!();
    let env = TestEnv::new("hooks-all");
    let rec = env.dir().join("rec");
    std::fs::create_dir_all(&rec).unwrap();
    let b = small_bundle(&env, "b", &["/bin/sleep", "1000"]);
    let names = [
        "prestart",
        "createRuntime",
        "createContainer",
        "startContainer",
        "poststart",
        "poststop",
    ];
    let mut hooks = json!({});
    for n in names {
        hooks[n] = json!([recorder(&rec, n)]);
    }
    with_hooks(&b, hooks);
    let id = env.new_id();
    let o = env.moat(&["create", "--bundle", b.dir.to_str().unwrap(), &id]);
    assert!(o.success(), "{}", o.describe());
    let pid = state_pid(&env, &id);
    assert!(env.moat(&["start", &id]).success());
    assert!(env.moat(&["kill", &id, "KILL"]).success());
    assert!(wait_status(&env, &id, "stopped"));
    assert!(env.moat(&["delete", &id]).success());
    let log = std::fs::read_to_string(rec.join("log")).unwrap();
    let order: Vec<&str> = log.lines().collect();
    let want: Vec<String> = names.iter().map(|n| format!("{n} arg1")).collect();
    assert_eq!(order, want);
    for (n, status) in [
        ("prestart", "creating"),
        ("createRuntime", "creating"),
        ("createContainer", "creating"),
        ("startContainer", "created"),
        ("poststart", "running"),
        ("poststop", "stopped"),
    ] {
        let s = saved(&rec, n);
        assert_eq!(s["id"], id.as_str(), "{n}: {s}");
        assert_eq!(s["status"], status, "{n}: {s}");
        assert!(s["ociVersion"].is_string(), "{n}: {s}");
        let bundle = b.dir.canonicalize().unwrap();
        assert_eq!(s["bundle"].as_str().map(Path::new), Some(bundle.as_path()));
        if status != "stopped" {
            assert_eq!(s["pid"], pid, "{n}: {s}");
        }
    }
}

/// The hooks runc also runs in the runtime's namespace see the same statuses and order.
#[test]
fn runtime_namespace_hooks_like_runc() {
    require_root!();
    let mut seen = Vec::new();
    for (name, env) in runtimes("hooks-runc") {
        let rec = env.dir().join("rec");
        std::fs::create_dir_all(&rec).unwrap();
        let b = small_bundle(&env, "b", &["/bin/sleep", "1000"]);
        let names = ["prestart", "createRuntime", "poststart", "poststop"];
        let mut hooks = json!({});
        for n in names {
            hooks[n] = json!([recorder(&rec, n)]);
        }
        with_hooks(&b, hooks);
        let id = started_bundle(&env, &b);
        assert!(env.moat(&["delete", "-f", &id]).success());
        let log = std::fs::read_to_string(rec.join("log")).unwrap_or_default();
        let statuses: Vec<String> = names
            .iter()
            .map(|n| saved(&rec, n)["status"].as_str().unwrap_or("").to_string())
            .collect();
        seen.push((name, log, statuses));
    }
    assert_eq!(seen[0].2, ["creating", "creating", "running", "stopped"]);
    for s in &seen[1..] {
        // runc 1.1 hands poststart hooks the state before it records "running"; moat gives
        // them "running", as the runtime spec's lifecycle has it. The rest must match.
        assert_eq!(s.1, seen[0].1, "{seen:?}");
        assert_eq!(
            [&s.2[0], &s.2[1], &s.2[3]],
            [&seen[0].2[0], &seen[0].2[1], &seen[0].2[3]],
            "{seen:?}"
        );
    }
}

/// A failing createRuntime hook fails create, with the hook's output in the message, and
/// leaves nothing behind (state, process, cgroup).
#[test]
fn failing_create_hook_leaves_nothing() {
    require_root!();
    let mut msgs = Vec::new();
    for (name, env) in runtimes("hooks-fail") {
        let b = small_bundle(&env, "b", &["/bin/sleep", "1000"]);
        with_hooks(
            &b,
            json!({"createRuntime": [
                {"path": "/bin/true"},
                {"path": "/bin/sh", "args": ["sh", "-c", "echo nope >&2; exit 3"]}
            ]}),
        );
        let id = env.new_id();
        let cg = format!("/moat-test-{}-hookfail/{id}", std::process::id());
        let mut c = b.config();
        c["linux"]["cgroupsPath"] = json!(cg);
        b.write_config(&c);
        let o = env.moat(&["create", "--bundle", b.dir.to_str().unwrap(), &id]);
        assert_ne!(o.code, 0, "{name}: {}", o.describe());
        assert!(
            o.stderr.contains("exit status 3"),
            "{name}: {}",
            o.describe()
        );
        assert!(o.stderr.contains("nope"), "{name}: {}", o.describe());
        assert!(env.state(&id).is_none(), "{name}: state left");
        assert!(
            wait_until(Duration::from_secs(5), || processes_matching(&id)
                .is_empty()),
            "{name}: {:?}",
            processes_matching(&id)
        );
        if name == "moat" {
            assert!(!env.root.join(&id).exists());
            assert!(!Path::new("/sys/fs/cgroup/pids").join(&cg[1..]).exists());
            assert!(
                !Path::new("/sys/fs/cgroup/pids")
                    .join(format!("moat-test-{}-hookfail", std::process::id()))
                    .exists(),
                "moat removes the cgroup parent it made"
            );
        }
        let _ = env.moat(&["delete", "-f", &id]);
        msgs.push((name, o.code));
    }
    // runc leaves the parent cgroup it created.
    for h in std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
        let _ = std::fs::remove_dir(
            h.path()
                .join(format!("moat-test-{}-hookfail", std::process::id())),
        );
    }
    assert_eq!(msgs[0].1, 1);
}

/// A hook that runs past its timeout is killed and fails the step.
#[test]
fn hook_timeout() {
    require_root!();
    let env = TestEnv::new("hooks-timeout");
    let b = small_bundle(&env, "b", &["/bin/sleep", "1000"]);
    with_hooks(
        &b,
        json!({"prestart": [{"path": "/bin/sleep", "args": ["sleep", "30"], "timeout": 1}]}),
    );
    let id = env.new_id();
    let t = Instant::now();
    let o = env.moat(&["create", "--bundle", b.dir.to_str().unwrap(), &id]);
    assert_ne!(o.code, 0, "{}", o.describe());
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    assert!(o.stderr.contains("timeout of 1.0s"), "{}", o.describe());
    assert!(!env.root.join(&id).exists());
}

/// poststart and poststop failures are warnings (the runtime spec); bad hook definitions are
/// config errors.
#[test]
fn post_hooks_only_warn_and_bad_hooks_are_rejected() {
    require_root!();
    let env = TestEnv::new("hooks-warn");
    let b = small_bundle(&env, "b", &["/bin/sleep", "1000"]);
    with_hooks(
        &b,
        json!({
            "poststart": [{"path": "/bin/false"}],
            "poststop": [{"path": "/bin/false"}]
        }),
    );
    let id = started_bundle(&env, &b);
    assert_eq!(status(&env, &id).as_deref(), Some("running"));
    let o = env.moat(&["delete", "-f", &id]);
    assert!(o.success(), "{}", o.describe());
    assert!(env.state(&id).is_none());

    for bad in [
        json!({"prestart": [{"path": "relative/hook"}]}),
        json!({"poststop": [{"path": "/bin/true", "timeout": 0}]}),
    ] {
        with_hooks(&b, bad);
        let id = env.new_id();
        let o = env.moat(&["create", "--bundle", b.dir.to_str().unwrap(), &id]);
        assert_ne!(o.code, 0, "{}", o.describe());
        assert_eq!(o.stderr.lines().count(), 1, "{}", o.describe());
        assert!(!env.root.join(&id).exists());
    }
}

/// `createContainer` runs in the container's namespaces (net, ipc, uts, mount, pid), as with
/// runc; moat's `startContainer` too (runc's runs in the container's root filesystem, where a
/// host path to record into does not exist, so it is checked for moat only).
#[test]
fn container_hooks_run_in_the_containers_namespaces() {
    require_root!();
    let kinds = ["net", "ipc", "uts", "mnt", "pid"];
    let mut seen = Vec::new();
    for (name, env) in runtimes("hooks-ns") {
        let rec = env.dir().join("rec");
        std::fs::create_dir_all(&rec).unwrap();
        let b = small_bundle(&env, "b", &["/bin/sleep", "1000"]);
        let hook = |n: &str| {
            json!([{
                "path": "/bin/sh",
                "args": ["sh", "-c",
                    "for n in net ipc uts mnt pid; do readlink /proc/self/ns/$n; done > \"$OUT\"",
                    n],
                "env": [format!("OUT={}", rec.join(n).display())],
            }])
        };
        let mut hooks = json!({"createContainer": hook("createContainer")});
        if name == "moat" {
            hooks["startContainer"] = hook("startContainer");
        }
        with_hooks(&b, hooks);
        let id = env.new_id();
        let o = env.moat(&["create", "--bundle", b.dir.to_str().unwrap(), &id]);
        assert!(o.success(), "{name}: {}", o.describe());
        let pid = state_pid(&env, &id);
        let container: Vec<String> = kinds
            .iter()
            .map(|k| {
                std::fs::read_link(format!("/proc/{pid}/ns/{k}"))
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        let host: Vec<String> = kinds
            .iter()
            .map(|k| {
                std::fs::read_link(format!("/proc/self/ns/{k}"))
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        let read = |n: &str| -> Vec<String> {
            std::fs::read_to_string(rec.join(n))
                .unwrap_or_default()
                .lines()
                .map(str::to_string)
                .collect()
        };
        let created = read("createContainer");
        assert_eq!(created, container, "{name}: createContainer");
        for (c, h) in container.iter().zip(&host) {
            assert_ne!(c, h, "{name}: the container shares a namespace with us");
        }
        if name == "moat" {
            assert!(env.moat(&["start", &id]).success());
            assert_eq!(read("startContainer"), container, "startContainer");
        }
        assert!(env.moat(&["delete", "-f", &id]).success());
        seen.push(name);
    }
}
