//! Proof that the workload talks to the sentry, not to the host kernel, plus sandbox-only
//! assertions (things that legitimately differ from a native run: pids, /proc, /dev,
//! hostname, uname).

use moat_tests::{
    expected_release, host_release, kv_lines, require_root, run_native, Bundle, TestEnv, HOSTNAME,
};
use std::collections::BTreeMap;
use std::fs;
use std::hash::{Hash, Hasher};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

const PROBE: &str = "moat-intercept-probe";
const CONTENT: &str = "written-inside-the-sandbox";

/// Raw syscall()s of a static program see the sentry's answers: getpid is 1, uname is the
/// sentry's release, and a file written under / never reaches the bundle on the host.
#[test]
fn raw_syscalls_are_answered_by_the_sentry() {
    require_root!();
    let env = TestEnv::new("intercept");
    let b = env.bundle("bundle", &["/opt/moat-tests/intercept"]);
    let (_, o) = env.run_bundle(&b);
    assert!(o.success(), "intercept under moat failed: {}", o.describe());
    let kv = kv_lines(&o.stdout);
    let host = host_release();
    assert_eq!(
        kv.get("pid").map(String::as_str),
        Some("1"),
        "{}",
        o.describe()
    );
    assert_eq!(
        kv.get("release"),
        Some(&expected_release()),
        "{}",
        o.describe()
    );
    assert_ne!(
        kv.get("release"),
        Some(&host),
        "uname leaked the host release"
    );
    assert_eq!(kv.get("sysname").map(String::as_str), Some("Linux"));
    assert_eq!(
        kv.get("write").map(String::as_str),
        Some("ok"),
        "{}",
        o.describe()
    );
    assert_eq!(
        kv.get("read").map(String::as_str),
        Some(CONTENT),
        "{}",
        o.describe()
    );
    assert_eq!(
        kv.get("full_write").map(String::as_str),
        Some("-28"),
        "/dev/full: ENOSPC"
    );
    assert_eq!(
        kv.get("zero_read").map(String::as_str),
        Some("64"),
        "/dev/zero"
    );
    let on_host = b.rootfs().join(PROBE);
    assert!(
        on_host.symlink_metadata().is_err(),
        "{} exists on the host: the sandbox's write reached the bundle",
        on_host.display()
    );
}

/// The same program run natively reports the host's answers and really writes its probe
/// file: the moat assertions above are not vacuous.
#[test]
fn intercept_probe_natively_sees_the_host() {
    require_root!();
    let env = TestEnv::new("intercept-native");
    let root = env.rootfs_copy("rootfs");
    let o = run_native(&root, &["/opt/moat-tests/intercept"], env.timeout);
    assert!(o.success(), "{}", o.describe());
    let kv = kv_lines(&o.stdout);
    assert_ne!(kv.get("pid").map(String::as_str), Some("1"));
    assert_eq!(kv.get("release"), Some(&host_release()));
    assert_eq!(kv.get("read").map(String::as_str), Some(CONTENT));
    assert_eq!(
        fs::read_to_string(root.join(PROBE)).unwrap(),
        CONTENT,
        "the native run writes its probe into the rootfs"
    );
}

/// `--uname-release` changes what the sandbox's uname reports.
#[test]
fn uname_release_is_configurable() {
    require_root!();
    let env = TestEnv::new("uname-opt");
    let b = env.bundle("bundle", &["/opt/moat-tests/intercept"]);
    let id = env.new_id();
    let o = env.moat(&[
        "--uname-release",
        "9.8.7-moat-test",
        "run",
        "--bundle",
        b.dir.to_str().unwrap(),
        &id,
    ]);
    assert!(o.success(), "{}", o.describe());
    assert_eq!(
        kv_lines(&o.stdout).get("release").map(String::as_str),
        Some("9.8.7-moat-test"),
        "{}",
        o.describe()
    );
}

/// A snapshot of every entry of a tree: type, mode, owner, size, mtime, content hash, link
/// target.
fn snapshot(root: &Path) -> BTreeMap<String, String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        let mut entries: Vec<_> = fs::read_dir(dir).unwrap().map(|e| e.unwrap()).collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let p = e.path();
            let m = p.symlink_metadata().unwrap();
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            let ft = m.file_type();
            let detail = if ft.is_symlink() {
                format!("link:{}", fs::read_link(&p).unwrap().display())
            } else if ft.is_file() {
                let mut h = std::collections::hash_map::DefaultHasher::new();
                fs::read(&p).unwrap().hash(&mut h);
                format!("file:{}:{:x}", m.len(), h.finish())
            } else if ft.is_dir() {
                "dir".to_string()
            } else {
                format!("other:{:x}", m.rdev())
            };
            out.insert(
                rel,
                format!(
                    "{detail} mode={:o} uid={} gid={}",
                    m.mode(),
                    m.uid(),
                    m.gid()
                ),
            );
            if ft.is_dir() {
                walk(root, &p, out);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

const WRITER: &str = r#"
echo new > /probe-new-file
mkdir -p /probe-dir/sub && echo deep > /probe-dir/sub/f
echo extra-user:x:1000:1000::/:/bin/sh >> /etc/passwd
rm /etc/hostname
mv /etc/group /etc/group.moved
chmod 600 /etc/passwd
ln -s /nowhere /probe-link
rm -rf /opt/moat-tests
touch /bin/busybox
cat /probe-new-file /probe-dir/sub/f
grep -c extra-user /etc/passwd
test -e /etc/hostname || echo hostname-removed
test -e /etc/group.moved && echo group-moved
stat -c %a /etc/passwd
readlink /probe-link
test -e /opt/moat-tests || echo tests-removed
"#;

/// Creating, appending, removing, renaming, chmod-ing and touching files inside the
/// sandbox: the workload sees every change, the bundle on the host sees none.
#[test]
fn rootfs_writes_stay_in_the_sandbox() {
    require_root!();
    let env = TestEnv::new("overlay");
    let b = env.bundle("bundle", &["/bin/sh", "-c", WRITER]);
    let before = snapshot(&b.rootfs());
    let (_, o) = env.run_bundle(&b);
    assert!(o.success(), "{}", o.describe());
    assert_eq!(
        o.stdout,
        "new\ndeep\n1\nhostname-removed\ngroup-moved\n600\n/nowhere\ntests-removed\n",
        "the workload must see its own writes: {}",
        o.describe()
    );
    let after = snapshot(&b.rootfs());
    let changed: Vec<_> = before
        .keys()
        .chain(after.keys())
        .filter(|k| before.get(*k) != after.get(*k))
        .collect();
    assert!(
        changed.is_empty(),
        "the bundle's rootfs changed on the host: {changed:?}"
    );
}

/// `--overlay=none` writes through to the bundle, like runc; this also shows that the
/// check above can see a write when there is one.
#[test]
fn overlay_none_writes_through() {
    require_root!();
    let env = TestEnv::new("overlay-none");
    let b = env.bundle(
        "bundle",
        &["/bin/sh", "-c", "echo through > /probe-through"],
    );
    let id = env.new_id();
    let o = env.moat(&[
        "--overlay=none",
        "run",
        "--bundle",
        b.dir.to_str().unwrap(),
        &id,
    ]);
    assert!(o.success(), "{}", o.describe());
    assert_eq!(
        fs::read_to_string(b.rootfs().join("probe-through"))
            .ok()
            .as_deref(),
        Some("through\n"),
        "with --overlay=none the write must reach the bundle"
    );
}

/// Runs a sandbox-only script and returns its stdout (asserting exit 0).
fn sandbox_sh(env: &TestEnv, script: &str) -> (String, Bundle) {
    let (o, b) = env.run_script("bundle", script);
    assert!(o.success(), "script failed under moat: {}", o.describe());
    (o.stdout, b)
}

#[test]
fn shell_is_pid_1() {
    require_root!();
    let env = TestEnv::new("pid1");
    let (out, _) = sandbox_sh(&env, "echo $$; sh -c 'echo $PPID'; echo end");
    assert_eq!(out, "1\n1\nend\n");
}

#[test]
fn proc_self_stat_and_status() {
    require_root!();
    let env = TestEnv::new("proc-stat");
    let script = "read -r a b rest < /proc/self/stat; echo \"$a $b\"\n\
                  cat /proc/self/stat | cut -d' ' -f1,2,4\n\
                  grep -E '^(Name|Pid|PPid):' /proc/self/status | tr -s ' \\t' ' '";
    let (out, _) = sandbox_sh(&env, script);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 5, "{out:?}");
    assert_eq!(lines[0], "1 (sh)", "the shell's own /proc/self/stat");
    let f: Vec<&str> = lines[1].split(' ').collect();
    let cat_pid: u32 = f[0]
        .parse()
        .unwrap_or_else(|_| panic!("bad stat line {:?}", lines[1]));
    assert!(cat_pid > 1, "{out:?}");
    assert_eq!(f[1], "(cat)", "{out:?}");
    assert_eq!(f[2], "1", "cat's parent is the shell, pid 1: {out:?}");
    assert_eq!(lines[2], "Name: grep");
    let grep_pid: u32 = lines[3].strip_prefix("Pid: ").unwrap().parse().unwrap();
    assert!(grep_pid > 1 && grep_pid != cat_pid, "{out:?}");
    assert_eq!(lines[4], "PPid: 1");
}

#[test]
fn proc_1_fd_lists_stdio() {
    require_root!();
    let env = TestEnv::new("proc-fd");
    let (out, _) = sandbox_sh(&env, "ls /proc/1/fd; ls /proc/self/fd | head -n 3");
    let fds: Vec<&str> = out.lines().collect();
    for fd in ["0", "1", "2"] {
        assert!(
            fds.iter().filter(|l| **l == fd).count() == 2,
            "fd {fd} missing: {out:?}"
        );
    }
}

#[test]
fn proc_1_cmdline() {
    require_root!();
    let env = TestEnv::new("proc-cmdline");
    let script = "tr '\\0' '|' < /proc/1/cmdline; echo";
    let (out, _) = sandbox_sh(&env, script);
    assert_eq!(out, format!("/bin/sh|-c|{script}|\n"));
}

#[test]
fn dev_null_zero_full_urandom() {
    require_root!();
    let env = TestEnv::new("devices");
    let script = r#"
echo x > /dev/null && echo null_write=ok
echo null_read=$(wc -c < /dev/null)
echo zero=$(head -c 100 /dev/zero | tr -d '\0' | wc -c),$(head -c 100 /dev/zero | wc -c)
echo x > /dev/full 2>/dev/null; echo full_status=$?
echo x 2>&1 >/dev/full | grep -c 'No space left on device'
echo urandom=$(head -c 16 /dev/urandom | wc -c)
echo random=$(head -c 16 /dev/random | wc -c)
a=$(head -c 16 /dev/urandom | od -An -tx1); b=$(head -c 16 /dev/urandom | od -An -tx1)
[ "$a" != "$b" ] && echo urandom_differs
"#;
    let (out, _) = sandbox_sh(&env, script);
    assert_eq!(
        out,
        "null_write=ok\nnull_read=0\nzero=0,100\nfull_status=1\n1\nurandom=16\nrandom=16\nurandom_differs\n"
    );
}

/// Signals from inside the pid namespace to its init without a handler are ignored, as on
/// Linux (init cannot be killed by its own children, not even with SIGKILL).
#[test]
fn init_survives_kill_from_inside() {
    require_root!();
    let env = TestEnv::new("init-kill");
    let (out, _) = sandbox_sh(
        &env,
        "kill -9 $$; echo survived-kill; kill -TERM 1; echo survived-term",
    );
    assert_eq!(out, "survived-kill\nsurvived-term\n");
}

#[test]
fn hostname_and_uname_come_from_the_sandbox() {
    require_root!();
    let env = TestEnv::new("uts");
    let (out, _) = sandbox_sh(&env, "hostname; uname -n; uname -s; uname -r; uname -m");
    assert_eq!(
        out,
        format!(
            "{HOSTNAME}\n{HOSTNAME}\nLinux\n{}\nx86_64\n",
            expected_release()
        )
    );
}
