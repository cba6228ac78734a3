//! Container lifecycle with runc's semantics: create, state, start, kill, delete, run
//! (attached and --detach), list.

use moat_tests::{proc_state, processes_matching, require_root, wait_until, TestEnv};
use serde_json::Value;
use std::path::Path;
use std::time::Duration;

fn status(env: &TestEnv, id: &str) -> Option<String> {
    env.state(id)
        .and_then(|s| s["status"].as_str().map(str::to_string))
}

fn wait_status(env: &TestEnv, id: &str, want: &str) -> bool {
    wait_until(Duration::from_secs(15), || {
        status(env, id).as_deref() == Some(want)
    })
}

fn alive(pid: i64) -> bool {
    pid > 0 && matches!(proc_state(pid as i32), Some(s) if s != 'Z')
}

/// After `delete`, nothing of the container remains: no state, no state dir, no process.
fn assert_gone(env: &TestEnv, id: &str, pid: i64) {
    assert!(
        env.state(id).is_none(),
        "state {id} still answers after delete"
    );
    assert!(
        !env.root.join(id).exists(),
        "state dir {} left",
        env.root.join(id).display()
    );
    assert!(
        wait_until(Duration::from_secs(5), || processes_matching(id).is_empty()
            && !alive(pid)),
        "processes left after delete: {:?} (sandbox pid {pid} alive: {})",
        processes_matching(id),
        alive(pid)
    );
}

fn check_state_fields(st: &Value, id: &str, bundle: &Path) {
    assert!(st["ociVersion"].is_string(), "ociVersion: {st}");
    assert_eq!(st["id"], id, "{st}");
    let want = bundle.canonicalize().unwrap();
    assert_eq!(
        st["bundle"].as_str().map(Path::new),
        Some(want.as_path()),
        "bundle: {st}"
    );
    assert!(st["pid"].as_i64().unwrap_or(0) > 0, "pid: {st}");
}

#[test]
fn create_start_kill_delete() {
    require_root!();
    let env = TestEnv::new("lc-basic");
    let b = env.bundle("bundle", &["/bin/sleep", "1000"]);
    let id = env.new_id();
    let o = env.moat(&["create", "--bundle", b.dir.to_str().unwrap(), &id]);
    assert!(o.success(), "create: {}", o.describe());

    let st = env.state(&id).expect("state after create");
    assert_eq!(st["status"], "created", "{st}");
    check_state_fields(&st, &id, &b.dir);
    let pid = st["pid"].as_i64().unwrap();
    assert!(
        alive(pid),
        "the sandbox process {pid} must exist after create"
    );

    let o = env.moat(&["start", &id]);
    assert!(o.success(), "start: {}", o.describe());
    let st = env.state(&id).expect("state after start");
    assert_eq!(st["status"], "running", "{st}");
    assert_eq!(
        st["pid"].as_i64(),
        Some(pid),
        "pid must not change on start"
    );

    let o = env.moat(&["start", &id]);
    assert!(
        !o.success(),
        "starting a running container must fail: {}",
        o.describe()
    );

    let o = env.moat(&["kill", &id, "KILL"]);
    assert!(o.success(), "kill: {}", o.describe());
    assert!(
        wait_status(&env, &id, "stopped"),
        "not stopped after SIGKILL: {:?}",
        env.state(&id)
    );

    let o = env.moat(&["delete", &id]);
    assert!(o.success(), "delete: {}", o.describe());
    assert_gone(&env, &id, pid);
}

/// `kill` without a signal sends SIGTERM, which a workload can catch.
#[test]
fn kill_default_sigterm_reaches_a_handler() {
    require_root!();
    let env = TestEnv::new("lc-term");
    let b = env.bundle(
        "bundle",
        &[
            "/bin/sh",
            "-c",
            "trap 'echo got-term > /tmp/t; exit 7' TERM; while :; do sleep 0.1; done",
        ],
    );
    let id = env.new_id();
    let o = env.moat(&["run", "--detach", "--bundle", b.dir.to_str().unwrap(), &id]);
    assert!(o.success(), "run -d: {}", o.describe());
    assert!(wait_status(&env, &id, "running"));
    let o = env.moat(&["kill", &id]);
    assert!(o.success(), "kill: {}", o.describe());
    assert!(
        wait_status(&env, &id, "stopped"),
        "SIGTERM with a trap must end it: {:?}",
        env.state(&id)
    );
    let pid = env.state(&id).unwrap()["pid"].as_i64().unwrap_or(0);
    let o = env.moat(&["delete", &id]);
    assert!(o.success(), "delete: {}", o.describe());
    assert_gone(&env, &id, pid);
}

#[test]
fn run_detach_then_kill_and_delete() {
    require_root!();
    let env = TestEnv::new("lc-detach");
    let b = env.bundle("bundle", &["/bin/sleep", "1000"]);
    let id = env.new_id();
    let o = env.moat(&["run", "--detach", "--bundle", b.dir.to_str().unwrap(), &id]);
    assert!(o.success(), "run --detach: {}", o.describe());
    let st = env.state(&id).expect("state after run -d");
    assert_eq!(st["status"], "running", "{st}");
    check_state_fields(&st, &id, &b.dir);
    let pid = st["pid"].as_i64().unwrap();
    let o = env.moat(&["kill", &id, "9"]);
    assert!(o.success(), "kill 9: {}", o.describe());
    assert!(wait_status(&env, &id, "stopped"));
    let o = env.moat(&["delete", &id]);
    assert!(o.success(), "delete: {}", o.describe());
    assert_gone(&env, &id, pid);
}

/// `delete -f` kills and removes a running container.
#[test]
fn delete_force_running() {
    require_root!();
    let env = TestEnv::new("lc-delf");
    let b = env.bundle("bundle", &["/bin/sleep", "1000"]);
    let id = env.new_id();
    let o = env.moat(&["run", "-d", "--bundle", b.dir.to_str().unwrap(), &id]);
    assert!(o.success(), "run -d: {}", o.describe());
    let pid = env.state(&id).expect("state")["pid"].as_i64().unwrap_or(0);
    let o = env.moat(&["delete", &id]);
    assert!(
        !o.success(),
        "delete without -f of a running container must fail: {}",
        o.describe()
    );
    let o = env.moat(&["delete", "-f", &id]);
    assert!(o.success(), "delete -f: {}", o.describe());
    assert_gone(&env, &id, pid);
}

/// Attached `run` returns the workload's status and removes the container afterwards.
#[test]
fn run_returns_status_and_cleans_up() {
    require_root!();
    let env = TestEnv::new("lc-run");
    let b = env.bundle(
        "bundle",
        &["/bin/sh", "-c", "echo out; echo err >&2; exit 42"],
    );
    let (id, o) = env.run_bundle(&b);
    assert_eq!(o.code, 42, "{}", o.describe());
    assert_eq!(o.stdout, "out\n");
    assert!(o.stderr.contains("err\n"), "{}", o.describe());
    assert_gone(&env, &id, 0);
    let l = env.moat(&["list", "-q"]);
    assert!(l.success(), "{}", l.describe());
    assert!(!l.stdout.contains(&id), "{}", l.describe());
}

#[test]
fn delete_unknown_id() {
    require_root!();
    let env = TestEnv::new("lc-delunk");
    let id = env.new_id();
    let o = env.moat(&["delete", &id]);
    assert!(
        !o.timed_out && o.code != 0,
        "delete of an unknown id must fail: {}",
        o.describe()
    );
    let o = env.moat(&["delete", "-f", &id]);
    assert!(
        o.success(),
        "delete -f of an unknown id succeeds (runc): {}",
        o.describe()
    );
}

#[test]
fn list_shows_containers() {
    require_root!();
    let env = TestEnv::new("lc-list");
    let b = env.bundle("bundle", &["/bin/sleep", "1000"]);
    let ids = [env.new_id(), env.new_id()];
    for id in &ids {
        let o = env.moat(&["create", "--bundle", b.dir.to_str().unwrap(), id]);
        assert!(o.success(), "create {id}: {}", o.describe());
    }
    let o = env.moat(&["list"]);
    assert!(o.success(), "{}", o.describe());
    assert!(o.stdout.starts_with("ID"), "table header: {}", o.describe());
    for id in &ids {
        let line = o
            .stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(id));
        let line = line.unwrap_or_else(|| panic!("{id} not listed: {}", o.describe()));
        assert!(line.contains("created"), "{line}");
    }
    let o = env.moat(&["list", "-q"]);
    let mut got: Vec<&str> = o.stdout.lines().collect();
    got.sort();
    let mut want: Vec<&str> = ids.iter().map(String::as_str).collect();
    want.sort();
    assert_eq!(got, want, "{}", o.describe());
    let o = env.moat(&["list", "--format", "json"]);
    let v: Value =
        serde_json::from_str(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", o.describe()));
    let mut got: Vec<String> = v
        .as_array()
        .expect("json list is an array")
        .iter()
        .map(|c| c["id"].as_str().unwrap_or_default().to_string())
        .collect();
    got.sort();
    assert_eq!(got, want);
    for id in &ids {
        let o = env.moat(&["delete", "-f", id]);
        assert!(o.success(), "{}", o.describe());
    }
    let o = env.moat(&["list", "-q"]);
    assert!(o.success() && o.stdout.is_empty(), "{}", o.describe());
}

/// The same id cannot be created twice; the first container is not disturbed.
#[test]
fn duplicate_id_is_refused() {
    require_root!();
    let env = TestEnv::new("lc-dup");
    let b = env.bundle("bundle", &["/bin/sleep", "1000"]);
    let id = env.new_id();
    let o = env.moat(&["create", "--bundle", b.dir.to_str().unwrap(), &id]);
    assert!(o.success(), "{}", o.describe());
    let o = env.moat(&["create", "--bundle", b.dir.to_str().unwrap(), &id]);
    assert!(
        !o.timed_out && o.code != 0,
        "second create must fail: {}",
        o.describe()
    );
    assert_eq!(o.stderr.lines().count(), 1, "{}", o.describe());
    assert_eq!(status(&env, &id).as_deref(), Some("created"));
}
