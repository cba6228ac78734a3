//! Bad input fails cleanly: a non-zero exit, exactly one line on stderr, no panic, and
//! nothing left behind (no state directory under --root, no process, no mount).
//!
//! The tests in this file run one at a time (a process-wide lock), with this test process
//! as a child subreaper, so that any process a failed moat command leaves behind is
//! re-parented to us and found.

use moat_tests::{
    mountinfo, oci_config, proc_state, processes_matching, require_root, wait_until, Output,
    TestEnv,
};
use serde_json::json;
use std::fs;
use std::sync::{Mutex, MutexGuard, Once};
use std::time::Duration;

static LOCK: Mutex<()> = Mutex::new(());
static SUBREAPER: Once = Once::new();

fn serialize() -> MutexGuard<'static, ()> {
    SUBREAPER.call_once(|| {
        // SAFETY: prctl with integer arguments.
        let r = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
        assert_eq!(r, 0, "PR_SET_CHILD_SUBREAPER");
    });
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// Live processes whose parent is this test process. Zombie children are reaped.
fn our_children() -> Vec<(i32, String)> {
    let me = std::process::id() as i32;
    let mut v = Vec::new();
    for e in fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some(close) = stat.rfind(')') else {
            continue;
        };
        let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        if fields.get(1).and_then(|p| p.parse::<i32>().ok()) != Some(me) {
            continue;
        }
        if fields[0] == "Z" {
            // An orphan that already exited: reap it (no other thread has children now).
            // SAFETY: waitpid on a specific pid.
            unsafe { libc::waitpid(pid, std::ptr::null_mut(), libc::WNOHANG) };
            continue;
        }
        let cmd = fs::read(format!("/proc/{pid}/cmdline"))
            .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
            .unwrap_or_default();
        v.push((pid, format!("{} [{}]", cmd.trim_end(), fields[0])));
    }
    v
}

/// Runs `f` (which runs failing moat commands) and checks everything a clean failure
/// requires.
fn expect_clean_failure(env: &TestEnv, id: &str, f: impl FnOnce() -> Output) -> Output {
    let mounts_before = mountinfo();
    let o = f();
    assert!(!o.timed_out, "moat hung on bad input: {}", o.describe());
    assert_ne!(o.code, 0, "bad input must fail: {}", o.describe());
    for text in [&o.stdout, &o.stderr] {
        assert!(
            !text.contains("panicked") && !text.contains("RUST_BACKTRACE"),
            "panic on bad input: {}",
            o.describe()
        );
    }
    let lines: Vec<&str> = o.stderr.lines().collect();
    assert!(
        lines.len() == 1 && !lines[0].trim().is_empty(),
        "want exactly one non-empty line on stderr, got {}: {}",
        lines.len(),
        o.describe()
    );
    // No state directory left under --root.
    if let Ok(rd) = fs::read_dir(&env.root) {
        let left: Vec<_> = rd.flatten().map(|e| e.file_name()).collect();
        assert!(
            left.is_empty(),
            "state left under {}: {left:?}",
            env.root.display()
        );
    }
    // No process left: nothing mentioning the id or our --root, and no orphan of ours.
    let root = env.root.to_string_lossy().into_owned();
    let gone = wait_until(Duration::from_secs(5), || {
        processes_matching(id).is_empty()
            && processes_matching(&root).is_empty()
            && our_children().is_empty()
    });
    assert!(
        gone,
        "processes left behind: {:?} {:?} {:?}",
        processes_matching(id),
        processes_matching(&root),
        our_children()
    );
    // No new mount (retry once: another program on the machine may mount briefly).
    let new_mounts = || -> Vec<String> {
        mountinfo()
            .into_iter()
            .filter(|m| !mounts_before.contains(m))
            .collect()
    };
    let clean = wait_until(Duration::from_secs(2), || new_mounts().is_empty());
    assert!(clean, "mounts left behind: {:?}", new_mounts());
    o
}

fn run_failing(env: &TestEnv, bundle: &std::path::Path, id: &str) -> Output {
    expect_clean_failure(env, id, || {
        env.moat(&["run", "--bundle", bundle.to_str().unwrap(), id])
    })
}

#[test]
fn missing_bundle() {
    require_root!();
    let _g = serialize();
    let env = TestEnv::new("bad-nobundle");
    let id = env.new_id();
    run_failing(&env, &env.dir().join("does-not-exist"), &id);
}

#[test]
fn bundle_without_config_json() {
    require_root!();
    let _g = serialize();
    let env = TestEnv::new("bad-noconfig");
    let b = env.bundle("bundle", &["/bin/true"]);
    fs::remove_file(b.config_path()).unwrap();
    let id = env.new_id();
    run_failing(&env, &b.dir, &id);
}

#[test]
fn garbage_config_json() {
    require_root!();
    let _g = serialize();
    let env = TestEnv::new("bad-garbage");
    let b = env.bundle("bundle", &["/bin/true"]);
    fs::write(b.config_path(), "this is { not json at all\n\0\x01\x02").unwrap();
    let id = env.new_id();
    run_failing(&env, &b.dir, &id);
}

#[test]
fn empty_config_json() {
    require_root!();
    let _g = serialize();
    let env = TestEnv::new("bad-empty");
    let b = env.bundle("bundle", &["/bin/true"]);
    fs::write(b.config_path(), "").unwrap();
    let id = env.new_id();
    run_failing(&env, &b.dir, &id);
}

/// Valid JSON that is not a usable config: each case misses or breaks a required part.
#[test]
fn config_json_missing_or_wrong_fields() {
    require_root!();
    let _g = serialize();
    let full = oci_config(&["/bin/true"]);
    let mut no_process = full.clone();
    no_process.as_object_mut().unwrap().remove("process");
    let mut no_root = full.clone();
    no_root.as_object_mut().unwrap().remove("root");
    let mut no_args = full.clone();
    no_args["process"].as_object_mut().unwrap().remove("args");
    let mut empty_args = full.clone();
    empty_args["process"]["args"] = json!([]);
    let mut args_not_list = full.clone();
    args_not_list["process"]["args"] = json!("/bin/true");
    let mut bad_rootfs = full.clone();
    bad_rootfs["root"]["path"] = json!("no-such-rootfs");
    let mut relative_cwd = full.clone();
    relative_cwd["process"]["cwd"] = json!("relative/dir");
    let cases = [
        ("{}", json!({})),
        ("[]", json!([])),
        ("only ociVersion", json!({"ociVersion": "1.0.2"})),
        ("no process", no_process),
        ("no root", no_root),
        ("no args", no_args),
        ("empty args", empty_args),
        ("args not a list", args_not_list),
        ("missing rootfs dir", bad_rootfs),
        ("relative cwd", relative_cwd),
    ];
    for (what, cfg) in cases {
        let env = TestEnv::new("bad-fields");
        let b = env.bundle("bundle", &["/bin/true"]);
        b.write_config(&cfg);
        let id = env.new_id();
        let o = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            run_failing(&env, &b.dir, &id)
        }));
        if let Err(e) = o {
            let msg = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            panic!("config case '{what}': {msg}");
        }
    }
}

#[test]
fn nonexistent_executable_absolute() {
    require_root!();
    let _g = serialize();
    let env = TestEnv::new("bad-noexec");
    let b = env.bundle("bundle", &["/no/such/program", "arg"]);
    let id = env.new_id();
    let o = run_failing(&env, &b.dir, &id);
    assert!(
        o.stderr.contains("/no/such/program"),
        "name the program: {}",
        o.describe()
    );
}

#[test]
fn nonexistent_executable_in_path() {
    require_root!();
    let _g = serialize();
    let env = TestEnv::new("bad-nopath");
    let b = env.bundle("bundle", &["no-such-command-anywhere"]);
    let id = env.new_id();
    let o = run_failing(&env, &b.dir, &id);
    assert!(
        o.stderr.contains("no-such-command-anywhere"),
        "{}",
        o.describe()
    );
}

#[test]
fn executable_is_not_executable() {
    require_root!();
    let _g = serialize();
    let env = TestEnv::new("bad-noperm");
    let b = env.bundle("bundle", &["/etc/passwd"]);
    let id = env.new_id();
    run_failing(&env, &b.dir, &id);
}

/// `create` (not only `run`) reports a missing executable before the container exists.
#[test]
fn create_with_nonexistent_executable() {
    require_root!();
    let _g = serialize();
    let env = TestEnv::new("bad-create");
    let b = env.bundle("bundle", &["/no/such/program"]);
    let id = env.new_id();
    expect_clean_failure(&env, &id, || {
        env.moat(&["create", "--bundle", b.dir.to_str().unwrap(), &id])
    });
    assert!(
        env.state(&id).is_none(),
        "the container must not exist after a failed create"
    );
}

#[test]
fn unknown_container_id() {
    require_root!();
    let _g = serialize();
    let env = TestEnv::new("bad-unknown");
    let id = env.new_id();
    for cmd in [
        vec!["state", id.as_str()],
        vec!["start", id.as_str()],
        vec!["kill", id.as_str()],
        vec!["kill", id.as_str(), "KILL"],
        vec!["delete", id.as_str()],
    ] {
        let o = expect_clean_failure(&env, &id, || env.moat(&cmd));
        assert!(
            o.stdout.is_empty(),
            "{cmd:?} printed to stdout: {}",
            o.describe()
        );
    }
}

/// Container ids that could name a path outside --root are refused.
#[test]
fn invalid_container_ids() {
    require_root!();
    let _g = serialize();
    let env = TestEnv::new("bad-ids");
    let b = env.bundle("bundle", &["/bin/true"]);
    for id in ["../escape", "a/b", "..", ".", ""] {
        expect_clean_failure(&env, "escape", || {
            env.moat(&["run", "--bundle", b.dir.to_str().unwrap(), id])
        });
        assert!(
            !env.dir().join("escape").exists(),
            "id {id:?} created a path outside --root"
        );
    }
}

#[test]
fn unknown_signal() {
    require_root!();
    let _g = serialize();
    let env = TestEnv::new("bad-signal");
    let b = env.bundle("bundle", &["/bin/sleep", "1000"]);
    let id = env.new_id();
    let o = env.moat(&["run", "--detach", "--bundle", b.dir.to_str().unwrap(), &id]);
    assert!(o.success(), "{}", o.describe());
    let k = env.moat(&["kill", &id, "SIGNOTASIGNAL"]);
    assert!(!k.timed_out && k.code != 0, "{}", k.describe());
    assert_eq!(k.stderr.lines().count(), 1, "{}", k.describe());
    assert!(!k.stderr.contains("panicked"));
    let st = env.state(&id).expect("container still there");
    assert_eq!(
        st["status"], "running",
        "a bad kill must not change the container"
    );
    let d = env.moat(&["delete", "-f", &id]);
    assert!(d.success(), "{}", d.describe());
    assert!(wait_until(Duration::from_secs(5), || processes_matching(
        &id
    )
    .is_empty()
        && our_children().is_empty()));
    let pid = st["pid"].as_i64().unwrap_or(0) as i32;
    assert!(pid <= 0 || proc_state(pid).is_none() || proc_state(pid) == Some('Z'));
}
