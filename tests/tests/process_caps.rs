//! `process.capabilities` and `process.noNewPrivileges` of the container's init, against
//! runc: the capability sets the workload sees in /proc/self/status, what it may do with
//! them (chown needs CAP_CHOWN, reading another user's 0600 file needs CAP_DAC_OVERRIDE),
//! and NoNewPrivs. The same bundle runs under moat and runc; the outputs must be equal.

mod cli_common;

use cli_common::*;
use moat_tests::require_root;
use serde_json::{json, Value};

const SCRIPT: &str = "grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs):' /proc/self/status
echo secret > /tmp/secret; chown 4242:4242 /tmp/secret && echo 'chown: ok' || echo 'chown: refused'
chmod 600 /tmp/secret
cat /tmp/secret >/dev/null 2>&1 && echo 'read 0600 file of another user: ok' || echo 'read 0600 file of another user: refused'
kill -0 1 && echo 'kill -0 1: ok'
";

fn run_all(tag: &str, caps: Option<Value>, nnp: bool, uid: u32) -> Vec<(&'static str, String)> {
    outputs_under_each(tag, &["/bin/sh", "-c", SCRIPT], |c, b| {
        match &caps {
            Some(v) => c["process"]["capabilities"] = v.clone(),
            None => {
                if let Some(p) = c["process"].as_object_mut() {
                    p.remove("capabilities");
                }
            }
        }
        c["process"]["noNewPrivileges"] = json!(nnp);
        c["process"]["user"] = json!({ "uid": uid, "gid": uid });
        // /tmp must be writable by a non-root init
        std::fs::set_permissions(
            b.rootfs().join("tmp"),
            std::os::unix::fs::PermissionsExt::from_mode(0o1777),
        )
        .unwrap();
    })
}

/// runc spec's default: only AUDIT_WRITE, KILL and NET_BIND_SERVICE; NoNewPrivs set.
#[test]
fn runc_spec_default_capabilities() {
    require_root!();
    let three = json!(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    let caps = json!({
        "bounding": three, "effective": three, "permitted": three, "ambient": three
    });
    let outs = run_all("caps-default", Some(caps), true, 0);
    assert!(
        outs[0].1.contains("chown: refused"),
        "moat let a container without CAP_CHOWN chown:\n{}",
        outs[0].1
    );
    assert!(outs[0].1.contains("NoNewPrivs:\t1"), "{}", outs[0].1);
    assert_same_outputs(&outs);
}

/// A containerd-like set (CHOWN, DAC_OVERRIDE, FOWNER, KILL, SETUID, SETGID, ...), no
/// noNewPrivileges.
#[test]
fn containerd_like_capabilities() {
    require_root!();
    let set = json!([
        "CAP_CHOWN",
        "CAP_DAC_OVERRIDE",
        "CAP_FSETID",
        "CAP_FOWNER",
        "CAP_MKNOD",
        "CAP_NET_RAW",
        "CAP_SETGID",
        "CAP_SETUID",
        "CAP_SETFCAP",
        "CAP_SETPCAP",
        "CAP_NET_BIND_SERVICE",
        "CAP_SYS_CHROOT",
        "CAP_KILL",
        "CAP_AUDIT_WRITE"
    ]);
    let caps = json!({ "bounding": set, "effective": set, "permitted": set });
    let outs = run_all("caps-containerd", Some(caps), false, 0);
    assert!(outs[0].1.contains("chown: ok"), "{}", outs[0].1);
    assert_same_outputs(&outs);
}

/// A non-root init with capabilities in its sets gets none after execve (no ambient set).
#[test]
fn non_root_init_has_no_capabilities() {
    require_root!();
    let set = json!(["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_KILL"]);
    let caps = json!({ "bounding": set, "effective": set, "permitted": set, "inheritable": set });
    let outs = run_all("caps-nonroot", Some(caps), true, 1000);
    assert!(
        outs[0].1.contains("CapEff:\t0000000000000000"),
        "{}",
        outs[0].1
    );
    assert_same_outputs(&outs);
}

/// No `process.capabilities` at all: root gets no capabilities, as under runc.
#[test]
fn absent_capabilities_are_none() {
    require_root!();
    let outs = run_all("caps-absent", None, false, 0);
    assert!(
        outs[0].1.contains("CapEff:\t0000000000000000"),
        "{}",
        outs[0].1
    );
    assert!(outs[0].1.contains("chown: refused"), "{}", outs[0].1);
    assert_same_outputs(&outs);
}

/// A non-root init keeps its ambient capabilities over execve (in permitted and effective
/// too), and a program it runs inherits them again; the shell's child shows the same sets.
#[test]
fn ambient_capabilities_reach_a_non_root_init() {
    require_root!();
    let set = json!(["CAP_CHOWN", "CAP_KILL"]);
    let caps = json!({
        "bounding": set, "effective": set, "permitted": set, "inheritable": set,
        "ambient": ["CAP_CHOWN"]
    });
    let outs = run_all("caps-ambient", Some(caps), true, 1000);
    assert!(
        outs[0].1.contains("CapAmb:\t0000000000000001"),
        "{}",
        outs[0].1
    );
    assert!(
        outs[0].1.contains("CapEff:\t0000000000000001"),
        "{}",
        outs[0].1
    );
    assert!(outs[0].1.contains("chown: ok"), "{}", outs[0].1);
    assert_same_outputs(&outs);
}
