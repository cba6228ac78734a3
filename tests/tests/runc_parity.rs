//! Details where moat must do what runc does, compared with runc on the same bundles:
//! `HOME` from the rootfs's /etc/passwd when the spec's environment lacks it (`/` without an
//! entry), a hostname longer than Linux allows, and arguments and environment beyond Linux's
//! limits.

mod cli_common;

use cli_common::*;
use moat_tests::require_root;
use serde_json::json;
use std::fs;

const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\nu:x:1234:1234:a user:/home/u:/bin/sh\n";

fn with_user(c: &mut serde_json::Value, b: &moat_tests::Bundle, uid: u32, env: &[&str]) {
    fs::write(b.dir.join("rootfs/etc/passwd"), PASSWD).unwrap();
    c["process"]["user"] = json!({"uid": uid, "gid": uid});
    c["process"]["env"] = json!(env);
}

#[test]
fn home_comes_from_etc_passwd_like_runc() {
    require_root!();
    for (tag, uid, env) in [
        ("home-root", 0, vec!["PATH=/bin:/usr/bin"]),
        ("home-user", 1234, vec!["PATH=/bin:/usr/bin"]),
        ("home-unknown", 4321, vec!["PATH=/bin:/usr/bin"]),
        (
            "home-given",
            1234,
            vec!["PATH=/bin:/usr/bin", "HOME=/given"],
        ),
    ] {
        let outs = outputs_under_each(tag, &["/bin/sh", "-c", "echo \"HOME=$HOME\""], |c, b| {
            with_user(c, b, uid, &env)
        });
        let want = match tag {
            "home-root" => "HOME=/root",
            "home-user" => "HOME=/home/u",
            "home-unknown" => "HOME=/",
            _ => "HOME=/given",
        };
        assert_eq!(outs[0].1, format!("exit 0\n{want}\n"), "{tag}");
        assert_same_outputs(&outs);
    }
}

#[test]
fn exec_gets_home_too() {
    require_root!();
    let env = moat_tests::TestEnv::new("home-exec");
    let b = small_bundle(&env, "b", &["sleep", "100"]);
    let mut c = b.config();
    with_user(&mut c, &b, 0, &["PATH=/bin:/usr/bin"]);
    b.write_config(&c);
    let id = started_bundle(&env, &b);
    let o = env.moat(&["exec", &id, "/bin/sh", "-c", "echo $HOME"]);
    assert!(o.success() && o.stdout == "/root\n", "{}", o.describe());
    let o = env.moat(&[
        "exec",
        "--env",
        "HOME=/e",
        &id,
        "/bin/sh",
        "-c",
        "echo $HOME",
    ]);
    assert!(o.success() && o.stdout == "/e\n", "{}", o.describe());
    let o = env.moat(&["delete", "--force", &id]);
    assert!(o.success(), "{}", o.describe());
}

/// A hostname longer than Linux allows and arguments beyond execve's limits fail `run` as
/// they do under runc (sethostname: EINVAL; exec: E2BIG), with nothing left behind.
#[test]
fn oversized_hostname_and_arguments_fail_like_runc() {
    require_root!();
    let huge = "x".repeat(200 * 1024);
    let cases: [(&str, Box<dyn Fn(&mut serde_json::Value)>); 3] = [
        (
            "long-hostname",
            Box::new(|c| c["hostname"] = json!("h".repeat(65))),
        ),
        (
            "long-arg",
            Box::new(move |c| {
                c["process"]["args"] = json!(["/bin/sh", "-c", "echo ran", huge.clone()])
            }),
        ),
        (
            "big-env",
            Box::new(|c| {
                let env: Vec<String> = (0..40)
                    .map(|i| format!("V{i}={}", "y".repeat(100 * 1024)))
                    .collect();
                c["process"]["env"] = json!(env);
            }),
        ),
    ];
    for (tag, edit) in cases {
        let outs = outputs_under_each(tag, &["/bin/sh", "-c", "echo ran"], |c, _| edit(c));
        assert!(
            !outs[0].1.starts_with("exit 0"),
            "{tag}: moat ran it: {}",
            outs[0].1
        );
        assert_same_outputs(&outs);
    }
    // At the limit itself, both run it.
    let outs = outputs_under_each("max-hostname", &["hostname"], |c, _| {
        c["hostname"] = json!("h".repeat(64))
    });
    assert_eq!(outs[0].1, format!("exit 0\n{}\n", "h".repeat(64)));
    assert_same_outputs(&outs);
}

/// An empty hostname leaves the host's, as an absent one does, under runc and moat alike.
#[test]
fn empty_or_absent_hostname_is_the_hosts() {
    require_root!();
    for (tag, set) in [("empty-hostname", Some("")), ("no-hostname", None)] {
        let outs = outputs_under_each(tag, &["hostname"], |c, _| match set {
            Some(h) => c["hostname"] = json!(h),
            None => {
                c.as_object_mut().unwrap().remove("hostname");
            }
        });
        let host = fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
        assert_eq!(outs[0].1, format!("exit 0\n{host}"), "{tag}");
        assert_same_outputs(&outs);
    }
}

/// `linux.sysctl`: the values show in /proc/sys and take writes, as under runc; sysctls of
/// no namespace of the container's own are refused with runc's words.
#[test]
fn linux_sysctl_like_runc() {
    require_root!();
    let script =
        "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmax /proc/sys/kernel/msgmax; \
                  echo 0 > /proc/sys/net/ipv4/ip_forward; cat /proc/sys/net/ipv4/ip_forward";
    let outs = outputs_under_each("sysctl", &["/bin/sh", "-c", script], |c, _| {
        c["linux"]["sysctl"] = json!({
            "net.ipv4.ip_forward": "1", "kernel.shmmax": "123456", "kernel.msgmax": "4096"});
    });
    // Root with CAP_NET_ADMIN may write its network namespace's sysctls.
    assert_eq!(outs[0].1, "exit 0\n1\n123456\n4096\n0\n");
    assert_same_outputs(&outs);
    // Without CAP_NET_ADMIN the write is refused.
    let outs = outputs_under_each("sysctl-nocap", &["/bin/sh", "-c", script], |c, _| {
        c["linux"]["sysctl"] = json!({
            "net.ipv4.ip_forward": "1", "kernel.shmmax": "123456", "kernel.msgmax": "4096"});
        c["process"].as_object_mut().unwrap().remove("capabilities");
    });
    assert_eq!(outs[0].1, "exit 0\n1\n123456\n4096\n1\n");
    assert_same_outputs(&outs);
    for (tag, key) in [
        ("sysctl-vm", "vm.swappiness"),
        ("sysctl-host-name", "kernel.hostname"),
    ] {
        let outs = outputs_under_each(tag, &["true"], |c, _| {
            c["hostname"] = json!("h");
            c["linux"]["sysctl"] = json!({key: "1"});
        });
        assert!(outs[0].1.starts_with("exit 1"), "{tag}: {}", outs[0].1);
        assert_same_outputs(&outs);
    }
}

/// `linux.maskedPaths` and `linux.readonlyPaths` as runc's default spec has them: masked
/// files read empty, masked directories are empty and read-only, and /proc/sys refuses
/// writes with EROFS (EACCES first without O_TRUNC on a read-only file), as under runc.
#[test]
fn masked_and_readonly_paths_like_runc() {
    require_root!();
    let script = r#"
        for f in /proc/kcore /proc/keys /proc/timer_list /proc/sched_debug; do
            [ -e $f ] && echo "$f: $(wc -c < $f) bytes"
        done
        for d in /proc/acpi /proc/scsi /sys/firmware; do
            [ -d $d ] && echo "$d: $(ls -A $d | wc -l) entries, $(stat -c %a $d)"
            touch $d/x 2>&1 | sed 's/.*: //'
        done
        echo x > /proc/sys/kernel/ostype 2>&1 | sed 's/.*: //'
        echo x > /proc/sys/kernel/pid_max 2>&1 | sed 's/.*: //'
        echo x >> /proc/sys/kernel/ostype 2>&1 | sed 's/.*: //'
        cat /proc/sys/kernel/ostype
    "#;
    let outs = outputs_under_each("masked", &["/bin/sh", "-c", script], |c, _| {
        c["linux"]["maskedPaths"] = json!([
            "/proc/acpi",
            "/proc/asound",
            "/proc/kcore",
            "/proc/keys",
            "/proc/latency_stats",
            "/proc/timer_list",
            "/proc/timer_stats",
            "/proc/sched_debug",
            "/sys/firmware",
            "/proc/scsi"
        ]);
        c["linux"]["readonlyPaths"] = json!([
            "/proc/bus",
            "/proc/fs",
            "/proc/irq",
            "/proc/sys",
            "/proc/sysrq-trigger"
        ]);
    });
    assert!(outs[0].1.contains("Read-only file system"), "{}", outs[0].1);
    assert_same_outputs(&outs);
}

/// The spec's mounts of `runc spec` (/proc, /dev, /dev/pts, /dev/shm, /dev/mqueue, /sys) in
/// /proc/self/mountinfo in spec order, with the spec's types, sources and mount flags, as under
/// runc (ids, device numbers and file system options differ by nature and are left out; the
/// root's line names the host's device under runc).
#[test]
fn mountinfo_lists_the_spec_mounts_like_runc() {
    require_root!();
    // mountpoint, per-mount options, type, source
    let script =
        "tail -n +2 /proc/self/mountinfo | while read id parent dev root mp opts rest; do \
                  set -- $rest; while [ \"$1\" != - ]; do shift; done; \
                  echo \"$mp $opts $2 $3\"; done; stat -L -c '%F %t:%T %a' /dev/ptmx";
    let outs = outputs_under_each("mountinfo", &["/bin/sh", "-c", script], |c, _| {
        c["mounts"] = json!([
            { "destination": "/proc", "type": "proc", "source": "proc" },
            { "destination": "/dev", "type": "tmpfs", "source": "tmpfs",
              "options": ["nosuid", "strictatime", "mode=755", "size=65536k"] },
            { "destination": "/dev/pts", "type": "devpts", "source": "devpts",
              "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"] },
            { "destination": "/dev/shm", "type": "tmpfs", "source": "shm",
              "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"] },
            { "destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
              "options": ["nosuid", "noexec", "nodev"] },
            { "destination": "/sys", "type": "sysfs", "source": "sysfs",
              "options": ["nosuid", "noexec", "nodev", "ro"] }
        ]);
    });
    assert!(
        outs[0]
            .1
            .contains("/dev/pts rw,nosuid,noexec,relatime devpts devpts\n"),
        "{}",
        outs[0].1
    );
    assert!(
        outs[0].1.contains("character special file 5:2 666"),
        "{}",
        outs[0].1
    );
    assert_same_outputs(&outs);
}

/// `linux.devices`: a character, a block and a FIFO node with their numbers, modes and owners
/// (the character device has no driver in the sandbox, nor on this host: opening it fails).
#[test]
fn linux_devices_are_made_like_runc() {
    require_root!();
    let script = "for d in /dev/test1 /dev/test2 /dev/sub/test3; do \
                  stat -c '%n %F %t:%T %a %u:%g' $d; done; \
                  cat /dev/test1 >/dev/null 2>&1 && echo 'open test1: ok' || echo 'open test1: failed'";
    let outs = outputs_under_each("devices", &["/bin/sh", "-c", script], |c, _| {
        c["linux"]["devices"] = json!([
            { "path": "/dev/test1", "type": "c", "major": 10, "minor": 666, "fileMode": 432, "uid": 0, "gid": 0 },
            { "path": "/dev/test2", "type": "b", "major": 8, "minor": 666, "fileMode": 384, "uid": 7, "gid": 8 },
            { "path": "/dev/sub/test3", "type": "p", "major": 0, "minor": 0, "fileMode": 420 }
        ]);
    });
    assert!(
        outs[0]
            .1
            .contains("/dev/test2 block special file 8:29a 600 7:8"),
        "{}",
        outs[0].1
    );
    assert_same_outputs(&outs);
}

/// A container's init that faults without a handler able to take the signal (ignored,
/// default or blocked SIGSEGV) dies of SIGSEGV, as under runc, instead of faulting forever
/// (pid 1's immunity to default actions does not cover faults); a handler still runs.
#[test]
fn init_killed_by_an_unhandled_fault_like_runc() {
    require_root!();
    for mode in ["handle", "ignore", "default", "block"] {
        let mut outs = Vec::new();
        for (name, env) in runtimes(&format!("fault-{mode}")) {
            let b = env.bundle("b", &["/opt/moat-tests/sig_init_fault", mode]);
            let (_, o) = env.run_bundle(&b);
            assert!(!o.timed_out, "{name} {mode}: {}", o.describe());
            outs.push((name, format!("exit {}\n{}", o.code, o.stdout)));
        }
        let want = if mode == "handle" {
            "exit 3\n"
        } else {
            "exit 139\n"
        };
        assert!(outs[0].1.starts_with(want), "{mode}: {}", outs[0].1);
        assert_same_outputs(&outs);
    }
}

/// A container's init is not killed by signals it has no handler for that come from inside
/// its pid namespace (SIGKILL, SIGSTOP, SIGTERM by kill, tgkill, rt_sigqueueinfo or its
/// process group), as under runc; a handled signal still arrives. trinity's children kill
/// their init this way when the sandbox lets them.
#[test]
fn init_survives_signals_from_its_namespace_like_runc() {
    require_root!();
    let mut outs = Vec::new();
    for (name, env) in runtimes("init-unkillable") {
        let b = env.bundle("b", &["/opt/moat-tests/sig_init_unkillable"]);
        let (_, o) = env.run_bundle(&b);
        assert!(!o.timed_out, "{name}: {}", o.describe());
        outs.push((name, format!("exit {}\n{}", o.code, o.stdout)));
    }
    assert!(
        outs[0].1.contains("SIGUSR1 handled 1\ndone: ok"),
        "{}",
        outs[0].1
    );
    assert_same_outputs(&outs);
}

/// Sparse files cost the pages written, not their length: fs_sparse_file truncates files on
/// the rootfs and on /dev/shm to 3 GiB, writes a few pages, punches holes and reads them back
/// inside a 256 MiB memory limit, as under runc (a sentry that kept files as flat buffers
/// was OOM-killed here, and by trinity's ftruncate calls).
#[test]
fn sparse_files_fit_a_small_memory_limit_like_runc() {
    require_root!();
    let outs = outputs_under_each("sparse", &["/fs_sparse_file"], |c, b| {
        let prog = moat_tests::rootfs_dir().join("opt/moat-tests/fs_sparse_file");
        std::fs::copy(prog, b.rootfs().join("fs_sparse_file")).unwrap();
        c["root"]["readonly"] = json!(false);
        if let Some(mounts) = c["mounts"].as_array_mut() {
            mounts.push(
                json!({ "destination": "/dev/shm", "type": "tmpfs", "source": "shm",
                                "options": ["nosuid", "noexec", "nodev", "mode=1777"] }),
            );
        }
        c["linux"]["resources"] = json!({ "memory": { "limit": 256u64 << 20 } });
    });
    assert!(
        outs[0].1.starts_with("exit 0\n") && outs[0].1.contains("done: ok"),
        "{}",
        outs[0].1
    );
    assert_same_outputs(&outs);
}
