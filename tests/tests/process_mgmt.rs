//! `ps`, `kill --all`, `pause`/`resume`, `events`, `update` and `features`, against moat and,
//! where the outcome should be the same, runc.
//!
//! moat's `ps` prints the sandbox's *virtual* pids (init is 1) where runc prints host pids, so
//! the comparison is on the number of processes and the shape of the output.

mod cli_common;

use cli_common::*;
use moat_tests::{require_root, wait_until, TestEnv};
use serde_json::{json, Value};
use std::time::Duration;

fn ps_json(env: &TestEnv, id: &str) -> Value {
    let o = env.moat(&["ps", "--format", "json", id]);
    assert!(o.success(), "ps: {}", o.describe());
    json(&o)
}

/// ps: json (an array of pids, `null` once stopped) and the table, with exec'd processes.
#[test]
fn ps_like_runc() {
    require_root!();
    let mut counts = Vec::new();
    for (name, env) in runtimes("ps") {
        let (id, _) = started(&env, "b", &["/bin/sleep", "1000"]);
        let one = ps_json(&env, &id);
        let out = Capture::new();
        let mut exec = spawn(&env, &["exec", &id, "sleep", "300"], &out);
        assert!(
            wait_until(Duration::from_secs(10), || ps_json(&env, &id)
                .as_array()
                .is_some_and(|a| a.len() == 2)),
            "{name}: exec'd process not listed: {}",
            ps_json(&env, &id)
        );
        let two = ps_json(&env, &id);
        let table = env.moat(&["ps", &id]);
        assert!(table.success(), "{name}: {}", table.describe());
        let lines: Vec<&str> = table.stdout.lines().collect();
        assert!(
            lines[0].contains("PID") && lines[0].contains("CMD"),
            "{name}: {lines:?}"
        );
        assert_eq!(lines.len(), 3, "{name}: {lines:?}");
        assert!(
            lines.iter().any(|l| l.ends_with("sleep 300")),
            "{name}: {lines:?}"
        );
        if name == "moat" {
            assert_eq!(one, json!([1]), "moat shows virtual pids");
            assert!(two.as_array().unwrap().contains(&json!(1)));
        }
        assert!(env.moat(&["kill", &id, "KILL"]).success());
        assert!(wait_status(&env, &id, "stopped"));
        let _ = exec.wait();
        let stopped = env.moat(&["ps", "--format", "json", &id]);
        counts.push((
            name,
            one.as_array().map(Vec::len),
            two.as_array().map(Vec::len),
            stopped.stdout.trim().to_string(),
        ));
        let unknown = env.moat(&["ps", "no-such-container"]);
        assert_eq!(message(&unknown.stderr), "container does not exist");
        assert_eq!(unknown.code, 1);
    }
    assert_eq!(
        counts[0],
        ("moat", Some(1), Some(2), "null".to_string()),
        "{counts:?}"
    );
    for c in &counts[1..] {
        assert_eq!((c.1, c.2, &c.3), (counts[0].1, counts[0].2, &counts[0].3));
    }
}

/// kill --all reaches every process; a plain kill only the init (which, without a handler,
/// ignores SIGTERM as a pid-namespace init does).
#[test]
fn kill_all_like_runc() {
    require_root!();
    let mut seen = Vec::new();
    for (name, env) in runtimes("killall") {
        let (id, _) = started(&env, "b", &["/bin/sleep", "1000"]);
        let out = Capture::new();
        let mut execs: Vec<_> = (0..2)
            .map(|_| spawn(&env, &["exec", &id, "sleep", "500"], &out))
            .collect();
        let count = || ps_json(&env, &id).as_array().map(Vec::len).unwrap_or(0);
        assert!(wait_until(Duration::from_secs(10), || count() == 3));
        assert!(env.moat(&["kill", &id, "TERM"]).success());
        std::thread::sleep(Duration::from_millis(300));
        let after_term = count();
        assert!(env.moat(&["kill", "--all", &id, "TERM"]).success());
        let exec_codes: Vec<Option<i32>> =
            execs.iter_mut().map(|c| c.wait().unwrap().code()).collect();
        assert!(
            wait_until(Duration::from_secs(10), || count() == 1),
            "{name}"
        );
        let after_all = count();
        let st = status(&env, &id);
        assert!(env.moat(&["kill", "-a", &id, "KILL"]).success());
        assert!(wait_status(&env, &id, "stopped"), "{name}");
        let again = env.moat(&["kill", &id, "KILL"]);
        seen.push((
            name,
            after_term,
            after_all,
            st,
            again.code,
            message(&again.stderr),
        ));
        // The exec'd sleeps died by SIGTERM: 128+15.
        assert_eq!(exec_codes, [Some(143), Some(143)], "{name}");
    }
    assert_eq!(
        seen[0],
        (
            "moat",
            3,
            1,
            Some("running".to_string()),
            1,
            "container not running".to_string()
        ),
        "{seen:?}"
    );
    for s in &seen[1..] {
        assert_eq!(
            (s.1, s.2, &s.3, s.4, &s.5),
            (seen[0].1, seen[0].2, &seen[0].3, seen[0].4, &seen[0].5)
        );
    }
}

/// pause freezes the workload (its output stops growing), resume thaws it; the statuses and
/// errors are runc's.
#[test]
fn pause_resume_like_runc() {
    require_root!();
    let mut seen = Vec::new();
    for (name, env) in runtimes("pause") {
        let b = small_bundle(
            &env,
            "b",
            &[
                "/bin/sh",
                "-c",
                "i=0; while :; do i=$((i+1)); echo $i; sleep 0.02; done",
            ],
        );
        let id = env.new_id();
        let out = Capture::new();
        let mut c = spawn(
            &env,
            &["create", "--bundle", b.dir.to_str().unwrap(), &id],
            &out,
        );
        assert!(
            c.wait().unwrap().success(),
            "{name}: create: {}",
            out.text()
        );
        let resume_created = env.moat(&["resume", &id]);
        assert!(env.moat(&["start", &id]).success());
        assert!(wait_until(Duration::from_secs(10), || out
            .text()
            .lines()
            .count()
            > 3));
        let p = env.moat(&["pause", &id]);
        assert!(p.success(), "{name}: {}", p.describe());
        let st_paused = status(&env, &id);
        std::thread::sleep(Duration::from_millis(200));
        let n1 = out.text().lines().count();
        std::thread::sleep(Duration::from_millis(500));
        let n2 = out.text().lines().count();
        let pause_twice = env.moat(&["pause", &id]);
        let start_paused = env.moat(&["start", &id]);
        let delete_paused = env.moat(&["delete", &id]);
        let list = env.moat(&["list", "--format", "json"]);
        let r = env.moat(&["resume", &id]);
        assert!(r.success(), "{name}: {}", r.describe());
        let st_resumed = status(&env, &id);
        assert!(
            wait_until(Duration::from_secs(10), || out.text().lines().count()
                > n2 + 3),
            "{name}: no progress after resume"
        );
        let resume_twice = env.moat(&["resume", &id]);
        assert!(env.moat(&["delete", "-f", &id]).success());
        assert_eq!(n1, n2, "{name}: the workload ran while paused");
        assert!(
            list.stdout.contains("\"paused\""),
            "{name}: {}",
            list.describe()
        );
        seen.push((
            name,
            st_paused,
            st_resumed,
            [
                (resume_created.code, message(&resume_created.stderr)),
                (pause_twice.code, message(&pause_twice.stderr)),
                (resume_twice.code, message(&resume_twice.stderr)),
                (delete_paused.code, message(&delete_paused.stderr)),
            ],
            start_paused.code,
        ));
    }
    let m = &seen[0];
    assert_eq!(m.1.as_deref(), Some("paused"));
    assert_eq!(m.2.as_deref(), Some("running"));
    assert_eq!(m.3[0], (1, "container not paused".to_string()));
    assert_eq!(m.3[1], (1, "container not running".to_string()));
    assert_eq!(m.3[2], (1, "container not paused".to_string()));
    assert_eq!(m.3[3].0, 1);
    assert!(
        m.3[3].1.ends_with("that is not stopped: paused"),
        "{seen:?}"
    );
    assert_ne!(m.4, 0);
    for s in &seen[1..] {
        assert_eq!((&s.1, &s.2, s.4 != 0), (&m.1, &m.2, true), "{seen:?}");
        for (a, b) in s.3.iter().zip(m.3.iter()) {
            assert_eq!(a.0, b.0, "{seen:?}");
            // Container names differ; compare the wording.
            assert_eq!(a.1.rsplit(':').next(), b.1.rsplit(':').next(), "{seen:?}");
        }
    }
}

/// events --stats: one runc-shaped JSON object with usage from the cgroup; --interval
/// streams until the container stops.
#[test]
fn events_like_runc() {
    require_root!();
    let mut shapes = Vec::new();
    for (name, env) in runtimes("events") {
        let (id, _) = started(&env, "b", &["/bin/sh", "-c", "while :; do :; done"]);
        std::thread::sleep(Duration::from_millis(300));
        let o = env.moat(&["events", "--stats", &id]);
        assert!(o.success(), "{name}: {}", o.describe());
        assert_eq!(o.stdout.lines().count(), 1, "{name}: {}", o.describe());
        assert!(
            o.stdout.starts_with("{\"type\":\"stats\",\"id\":"),
            "{name}: {}",
            o.stdout
        );
        let v = json(&o);
        assert_eq!(v["id"], id.as_str());
        let d = &v["data"];
        assert!(
            d["cpu"]["usage"]["total"].as_u64().unwrap_or(0) > 0,
            "{name}: {d}"
        );
        assert!(
            d["memory"]["usage"]["usage"].as_u64().unwrap_or(0) > 0,
            "{name}: {d}"
        );
        assert!(
            d["pids"]["current"].as_u64().unwrap_or(0) >= 1,
            "{name}: {d}"
        );
        let mut keys: Vec<String> = d.as_object().unwrap().keys().cloned().collect();
        keys.retain(|k| k != "moat");
        keys.sort();
        shapes.push((name, keys));
        if name == "moat" {
            assert_eq!(d["moat"]["processes"], 1, "{d}");
            // Streaming: lines every interval until the container stops.
            let out = Capture::new();
            let mut child = spawn(&env, &["events", "--interval", "100ms", &id], &out);
            assert!(wait_until(Duration::from_secs(10), || out
                .text()
                .lines()
                .count()
                >= 3));
            assert!(env.moat(&["kill", &id, "KILL"]).success());
            let ended = wait_until(Duration::from_secs(10), || {
                child.try_wait().ok().flatten().is_some()
            });
            let _ = child.kill();
            assert!(ended, "events did not end with the container");
            for l in out.text().lines() {
                let e: Value = serde_json::from_str(l).expect(l);
                assert_eq!(e["type"], "stats");
            }
            let bad = env.moat(&["events", "--interval", "0s", &id]);
            assert_ne!(bad.code, 0);
        } else {
            assert!(env.moat(&["kill", &id, "KILL"]).success());
        }
        assert!(wait_status(&env, &id, "stopped"));
        let stopped = env.moat(&["events", "--stats", &id]);
        assert_eq!(stopped.code, 1, "{name}: {}", stopped.describe());
        assert_eq!(
            message(&stopped.stderr.replace(&id, "ID")),
            "container with id ID is not running"
        );
    }
    for s in &shapes[1..] {
        assert_eq!(s.1, shapes[0].1, "{shapes:?}");
    }
}

/// update changes the cgroup's limits, from flags or `-r -` (what containerd sends).
#[test]
fn update_like_runc() {
    require_root!();
    let mut seen = Vec::new();
    for (name, env) in runtimes("update") {
        let b = small_bundle(&env, "b", &["/bin/sleep", "1000"]);
        let mut c = b.config();
        c["linux"]["resources"] = json!({"pids": {"limit": 100}, "memory": {"limit": 268435456}});
        b.write_config(&c);
        let id = started_bundle(&env, &b);
        let pid = state_pid(&env, &id);
        let pids = cgroup_dir(pid, "pids").expect("pids cgroup");
        let mem = cgroup_dir(pid, "memory").expect("memory cgroup");
        let read = |d: &std::path::Path, f: &str| {
            std::fs::read_to_string(d.join(f))
                .unwrap_or_default()
                .trim()
                .to_string()
        };
        let before = (read(&pids, "pids.max"), read(&mem, "memory.limit_in_bytes"));
        let o = env.moat(&["update", "--pids-limit", "42", "--memory", "128m", &id]);
        assert!(o.success(), "{name}: {}", o.describe());
        let flags = (read(&pids, "pids.max"), read(&mem, "memory.limit_in_bytes"));
        let o = with_stdin(
            &env,
            &["update", "-r", "-", &id],
            br#"{"pids":{"limit":77}}"#,
        );
        assert!(o.success(), "{name}: {}", o.describe());
        let from_json = read(&pids, "pids.max");
        let o = env.moat(&["update", "--pids-limit", "-1", &id]);
        assert!(o.success(), "{name}: {}", o.describe());
        let unlimited = read(&pids, "pids.max");
        let bad = env.moat(&["update", "--memory", "lots", &id]);
        assert_ne!(bad.code, 0, "{name}");
        assert!(env.moat(&["kill", &id, "KILL"]).success());
        assert!(wait_status(&env, &id, "stopped"));
        let stopped = env.moat(&["update", "--pids-limit", "5", &id]);
        seen.push((
            name,
            before,
            flags,
            from_json,
            unlimited,
            stopped.code,
            message(&stopped.stderr),
        ));
    }
    let m = &seen[0];
    assert_eq!(
        m.1,
        ("100".to_string(), "268435456".to_string()),
        "{seen:?}"
    );
    assert_eq!(m.2, ("42".to_string(), "134217728".to_string()), "{seen:?}");
    assert_eq!(m.3, "77");
    assert_eq!(m.4, "max");
    assert_eq!((m.5, m.6.as_str()), (1, "container not running"));
    for s in &seen[1..] {
        assert_eq!(
            (&s.1, &s.2, &s.3, &s.4, s.5, &s.6),
            (&m.1, &m.2, &m.3, &m.4, m.5, &m.6),
            "{seen:?}"
        );
    }
}

/// features: the OCI features document, shaped like runc's, truthful about moat.
#[test]
fn features_document() {
    require_root!();
    let env = TestEnv::new("features");
    let o = env.moat(&["features"]);
    assert!(o.success(), "{}", o.describe());
    let f = json(&o);
    assert_eq!(f["ociVersionMin"], "1.0.0");
    assert_eq!(
        f["hooks"],
        json!([
            "prestart",
            "createRuntime",
            "createContainer",
            "startContainer",
            "poststart",
            "poststop"
        ])
    );
    assert_eq!(f["linux"]["cgroup"]["v1"], true);
    assert_eq!(f["linux"]["cgroup"]["v2"], true);
    // The sentry enforces the seccomp profile; moat does not apply AppArmor or SELinux and
    // says so.
    assert_eq!(f["linux"]["seccomp"]["enabled"], true);
    assert_eq!(f["linux"]["apparmor"]["enabled"], false);
    assert_eq!(f["linux"]["selinux"]["enabled"], false);
    if let Some(r) = runc_bin() {
        let renv = env_with(&r, "features-runc");
        let rf = json(&renv.moat(&["features"]));
        let mut a: Vec<&String> = f.as_object().unwrap().keys().collect();
        let mut b: Vec<&String> = rf.as_object().unwrap().keys().collect();
        a.sort();
        b.sort();
        assert_eq!(a, b, "top-level keys differ from runc's");
        assert_eq!(f["hooks"], rf["hooks"]);
    }
}
