//! The C half of the issue-3 corpus: each tests/programs/NAME.c below (static unless its source
//! says `// moat-build: dynamic|static-pie`) runs natively (new namespaces, chroot into a copy
//! of the test rootfs, pid 1 like in the sandbox) and under `moat run`; stdout and exit
//! status must be equal, and the native run must end with `done: ok`. See
//! `moat_tests::corpus` for how the two runs are made alike.

use moat_tests::corpus::{compare, files_in, ExtraMount, Program};

macro_rules! corpus {
    ($($(#[$m:meta])* $test:ident => $prog:expr,)*) => {
        $(
            $(#[$m])*
            #[test]
            fn $test() {
                compare(&$prog);
            }
        )*
        /// Every program the list above runs (for `every_program_is_run`).
        const LISTED: &[&str] = &[$(stringify!($test)),*];
    };
}

fn c(name: &str) -> Program {
    Program::c(name)
}

corpus! {
    // ---- ELF and memory
    elf_dynamic => c("elf_dynamic"),
    elf_static_pie => c("elf_static_pie"),
    elf_auxv => c("elf_auxv"),
    elf_vdso => c("elf_vdso"),
    elf_script => c("elf_script"),
    elf_exec_thread => c("elf_exec_thread"),
    mm_file_map => c("mm_file_map"),
    mm_map_eof => c("mm_map_eof"),
    mm_mremap => c("mm_mremap"),
    mm_fork_cow => c("mm_fork_cow"),
    sys_patched => c("sys_patched"),
    mm_protect => c("mm_protect"),
    mm_proc_maps => c("mm_proc_maps"),
    mm_proc_maps_file => c("mm_proc_maps_file"),
    // ---- threads
    thr_basic => c("thr_basic"),
    thr_sync => c("thr_sync"),
    thr_pi => c("thr_pi"),
    thr_robust => c("thr_robust"),
    thr_futex => c("thr_futex"),
    thr_clone => c("thr_clone"),
    thr_rseq_membarrier => c("thr_rseq_membarrier"),
    thr_signals => c("thr_signals"),
    thr_exit => c("thr_exit"),
    // ---- processes
    proc_fork_exec => c("proc_fork_exec"),
    proc_spawn => c("proc_spawn"),
    proc_wait => c("proc_wait"),
    proc_reparent => c("proc_reparent"),
    proc_session => c("proc_session"),
    proc_prctl => c("proc_prctl"),
    proc_limits_usage => c("proc_limits_usage"),
    proc_exec_limits => c("proc_exec_limits"),
    // ---- signals
    sig_actions => c("sig_actions"),
    sig_restart => c("sig_restart"),
    sig_altstack => c("sig_altstack"),
    sig_wait_queue => c("sig_wait_queue"),
    sig_fpstate => c("sig_fpstate"),
    sig_default => c("sig_default"),
    sig_faults => c("sig_faults"),
    sig_pidfd => c("sig_pidfd"),
    // ---- time
    time_sleep => c("time_sleep"),
    time_alarm => c("time_alarm"),
    time_adjtimex => c("time_adjtimex"),
    // ---- files
    fs_at => c("fs_at"),
    fs_io => c("fs_io"),
    fs_copy => c("fs_copy"),
    fs_locks => c("fs_locks"),
    fs_dirs => c("fs_dirs"),
    fs_xattr => c("fs_xattr"),
    fs_open_flags => c("fs_open_flags"),
    fs_fifo => c("fs_fifo"),
    fs_copyup => c("fs_copyup"),
    fs_sparse_file => c("fs_sparse_file"),
    fs_chown_rules => c("fs_chown_rules"),
    fd_ops => c("fd_ops"),
    // ---- waiting for events
    poll_select => c("poll_select"),
    poll_epoll_mix => c("poll_epoll_mix"),
    // ---- sockets
    sock_unix_names => c("sock_unix_names"),
    sock_options => c("sock_options"),
    sock_msg => c("sock_msg"),
    sock_inet6 => c("sock_inet6"),
    sock_errors => c("sock_errors"),
    // ---- /proc and /sys
    procfs_self => c("procfs_self"),
    procfs_system => c("procfs_system"),
    // ---- IPC
    ipc_sysv_shm => c("ipc_sysv_shm"),
    ipc_sysv_sem => c("ipc_sysv_sem"),
    ipc_sysv_msg => c("ipc_sysv_msg"),
    ipc_posix_shm => c("ipc_posix_shm"),
    // ---- identity
    id_creds => c("id_creds"),
    id_user => c("id_user").user(1000, 1000),
    id_capabilities => c("id_capabilities"),
    id_setuid_rules => c("id_setuid_rules"),
    misc_uname_sysinfo => c("misc_uname_sysinfo"),
    misc_syscalls => c("misc_syscalls"),
    misc_arch_prctl => c("misc_arch_prctl"),
    misc_errnos => c("misc_errnos"),
    // ---- earlier programs, run the same way
    file_locks => c("file_locks"),
    ipc_sysv_basic => c("ipc_sysv_basic"),
    sig_fpstate_avx => c("sig_fpstate_avx"),
    // ---- programs of the sockets and events work, run the same way
    ev_epoll => c("ev_epoll"),
    ev_eventfd => c("ev_eventfd"),
    ev_inotify => c("ev_inotify"),
    ev_itimer => c("ev_itimer"),
    ev_memfd => c("ev_memfd"),
    ev_posix_timer => c("ev_posix_timer"),
    ev_signalfd => c("ev_signalfd"),
    ev_timerfd => c("ev_timerfd"),
}

/// Programs run by hand-written tests below rather than by `corpus!`.
const LISTED_BY_HAND: &[&str] = &["fs_mounts", "sig_init_fault", "sig_init_unkillable"];

/// tmpfs and bind mounts (rw and ro) from the spec; afterwards the rw bind mount's host
/// directory is the same after the native and the sandbox run (writes go through), and the
/// ro one is untouched.
#[test]
fn fs_mounts() {
    let p = c("fs_mounts")
        .mount(ExtraMount::Tmpfs {
            dest: "/mnt/tmpfs",
            options: &["size=1m", "mode=1777"],
        })
        .mount(ExtraMount::Bind {
            dest: "/mnt/rw",
            readonly: false,
            files: &[
                ("hello.txt", "hello from the host\n"),
                ("sub/inner.txt", "inner\n"),
            ],
        })
        .mount(ExtraMount::Bind {
            dest: "/mnt/ro",
            readonly: true,
            files: &[("ro.txt", "read only\n")],
        });
    let Some(r) = compare(&p) else { return };
    for (n, m) in r.native_binds.iter().zip(&r.moat_binds) {
        let (a, b) = (tree(n), tree(m));
        assert_eq!(a, b, "host side of a bind mount differs (native | moat)");
    }
    let ro = tree(&r.moat_binds[1]);
    assert_eq!(
        ro,
        vec![("ro.txt".to_string(), "f 644 read only\n".to_string())]
    );
}

/// (relative path, "type mode content") of every entry below `d`, sorted.
fn tree(d: &std::path::Path) -> Vec<(String, String)> {
    use std::os::unix::fs::PermissionsExt;
    let mut v = Vec::new();
    let mut stack = vec![d.to_path_buf()];
    while let Some(p) = stack.pop() {
        for e in std::fs::read_dir(&p).unwrap().flatten() {
            let md = std::fs::symlink_metadata(e.path()).unwrap();
            let rel = e
                .path()
                .strip_prefix(d)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            let mode = md.permissions().mode() & 0o7777;
            let what = if md.is_dir() {
                stack.push(e.path());
                format!("d {mode:o}")
            } else if md.file_type().is_symlink() {
                format!("l {}", std::fs::read_link(e.path()).unwrap().display())
            } else {
                format!(
                    "f {mode:o} {}",
                    String::from_utf8_lossy(&std::fs::read(e.path()).unwrap())
                )
            };
            v.push((rel, what));
        }
    }
    v.sort();
    v
}

/// Every tests/programs/*.c is run by some test: the corpus above or another test file (a
/// program nobody runs proves nothing).
#[test]
fn every_program_is_run() {
    let mut elsewhere = String::new();
    let tests_dir = moat_tests::workspace_root().join("tests/tests");
    for e in std::fs::read_dir(&tests_dir).unwrap().flatten() {
        if e.file_name() != "corpus_c.rs" {
            elsewhere += &std::fs::read_to_string(e.path()).unwrap_or_default();
        }
    }
    for e in std::fs::read_dir(moat_tests::workspace_root().join("tests/scripts"))
        .unwrap()
        .flatten()
    {
        elsewhere += &std::fs::read_to_string(e.path()).unwrap_or_default();
    }
    let missing: Vec<String> = files_in("programs", "c")
        .into_iter()
        .filter(|n| !LISTED.contains(&n.as_str()) && !LISTED_BY_HAND.contains(&n.as_str()))
        .filter(|n| {
            // `/opt/moat-tests/NAME` followed by anything but a name character
            let needle = format!("/opt/moat-tests/{n}");
            !elsewhere.match_indices(&needle).any(|(i, _)| {
                elsewhere[i + needle.len()..]
                    .chars()
                    .next()
                    .is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_'))
            })
        })
        .collect();
    assert!(
        missing.is_empty(),
        "tests/programs not run by any test: {missing:?}"
    );
    assert!(
        LISTED.len() >= 45,
        "the corpus has {} C programs",
        LISTED.len()
    );
}
