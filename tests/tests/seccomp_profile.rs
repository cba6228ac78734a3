//! The container's seccomp profile (`linux.seccomp`) under moat and runc: the sentry enforces
//! it on the workload's virtual syscalls, runc with a kernel filter; what the workload sees
//! must be the same (errno actions with and without errnoRet, argument conditions, kill and
//! trap actions, the default action, exec'd processes under the same profile).

mod cli_common;

use cli_common::*;
use moat_tests::require_root;
use serde_json::{json, Value};

const SCRIPT: &str = "touch /tmp/f
mkdir /tmp/d 2>&1; echo \"mkdir exit $?\"
chmod 644 /tmp/f 2>&1; echo \"chmod 644 exit $?\"
chmod 777 /tmp/f 2>&1; echo \"chmod 777 exit $?\"
ls -ld /tmp/f | cut -c1-10
(sync); echo \"sync exit $?\"
(hostname renamed); echo \"hostname exit $?\"
rmdir /nonexistent 2>&1; echo \"rmdir exit $?\"
grep -E '^Seccomp' /proc/self/status
echo end
";

/// Allow by default; mkdir fails with EACCES, chmod to 0777 with EPERM (an argument
/// condition), sync kills the process (not uname: static glibc calls it at start-up), sethostname traps, rmdir fails with the default
/// errno of SCMP_ACT_ERRNO (EPERM).
fn profile() -> Value {
    json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [
            { "names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13 },
            { "names": ["chmod"], "action": "SCMP_ACT_ERRNO",
              "args": [ { "index": 1, "value": 511, "op": "SCMP_CMP_EQ" } ] },
            { "names": ["fchmodat"], "action": "SCMP_ACT_ERRNO",
              "args": [ { "index": 2, "value": 511, "op": "SCMP_CMP_EQ" } ] },
            { "names": ["sync"], "action": "SCMP_ACT_KILL_PROCESS" },
            { "names": ["sethostname"], "action": "SCMP_ACT_TRAP" },
            { "names": ["rmdir", "unlinkat"], "action": "SCMP_ACT_ERRNO" },
            { "names": ["no_such_syscall_name"], "action": "SCMP_ACT_ERRNO" }
        ]
    })
}

#[test]
fn profile_is_enforced_like_runc() {
    require_root!();
    let outs = outputs_under_each("seccomp", &["/bin/sh", "-c", SCRIPT], |c, _| {
        c["linux"]["seccomp"] = profile();
    });
    let moat = &outs[0].1;
    for want in [
        "Permission denied\nmkdir exit 1",
        "chmod 644 exit 0",
        "Operation not permitted\nchmod 777 exit 1",
        "-rw-r--r--",
        "sync exit 159",
        "hostname exit 159",
        "end\n",
    ] {
        assert!(moat.contains(want), "moat's output lacks {want:?}:\n{moat}");
    }
    assert_same_outputs(&outs);
}

/// A profile whose default action refuses everything not listed (like Docker's default), with
/// the errno from defaultErrnoRet: listed syscalls work, an unlisted one fails with that errno.
#[test]
fn default_errno_and_allowlist_like_runc() {
    require_root!();
    // every syscall the sentry knows by name except mkdir/mkdirat: runc's own init also
    // runs under the profile after it is loaded, so a short list would stop runc itself
    let mut c = std::process::Command::new(moat_tests::moat_bin());
    c.arg("syscalls");
    let table = moat_tests::run_with_timeout(c, std::time::Duration::from_secs(30));
    assert!(table.success(), "moat syscalls: {}", table.describe());
    let allowed: Vec<&str> = table
        .stdout
        .lines()
        .filter_map(|l| l.split('\t').nth(1))
        .filter(|n| *n != "mkdir" && *n != "mkdirat")
        .collect();
    assert!(allowed.len() > 300);
    let prof = json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 1,
        "syscalls": [ { "names": allowed, "action": "SCMP_ACT_ALLOW" } ]
    });
    let script = "echo hello; cat /etc/hostname >/dev/null && echo cat ok; mkdir /tmp/x 2>&1; echo \"mkdir exit $?\"";
    let outs = outputs_under_each("seccomp-allowlist", &["/bin/sh", "-c", script], |c, _| {
        c["linux"]["seccomp"] = prof.clone();
    });
    assert!(
        outs[0].1.contains("hello\ncat ok\n")
            && outs[0].1.contains("Operation not permitted\nmkdir exit 1"),
        "moat: {}",
        outs[0].1
    );
    assert_same_outputs(&outs);
}

/// SCMP_ACT_NOTIFY (a seccomp agent) is refused at create with a config error, and nothing is
/// left behind.
#[test]
fn notify_action_is_refused() {
    require_root!();
    let env = moat_tests::TestEnv::new("seccomp-notify");
    let b = small_bundle(&env, "bundle", &["/bin/true"]);
    let mut c = b.config();
    c["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "listenerPath": "/run/agent.sock",
        "syscalls": [ { "names": ["mkdir"], "action": "SCMP_ACT_NOTIFY" } ]
    });
    b.write_config(&c);
    let id = env.new_id();
    let o = env.moat(&["create", "--bundle", b.dir.to_str().unwrap(), &id]);
    assert!(!o.success(), "create with SCMP_ACT_NOTIFY succeeded");
    assert!(
        o.stderr.contains("SCMP_ACT_NOTIFY"),
        "unclear error: {}",
        o.stderr
    );
    assert!(env.state(&id).is_none(), "state left behind");
}
