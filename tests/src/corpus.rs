//! The program corpus of issue 3 (tests/tests/corpus_c.rs, corpus_python.rs): every program
//! runs natively and under `moat run`, and stdout and exit status must be equal.
//!
//! Native runs are made as close to a sandbox as the host allows: `unshare` gives them new
//! mount, pid, uts, ipc and network namespaces (so the program is pid 1, sees hostname
//! [`HOSTNAME`](crate::HOSTNAME), its own SysV IPC objects and only a loopback interface),
//! `/proc`, `/sys` and a tmpfs `/dev/shm` are mounted into the chroot there, and they run with
//! the same environment, umask and rlimits as the sandbox (see [`crate::run_native`]). The
//! sandbox gets the matching `mounts` (proc, a tmpfs `/dev`, tmpfs `/dev/shm`, sysfs).
//!
//! Starting the corpus must stay cheap (CI has 2 vCPUs and the whole `make test` must stay well
//! under 30 minutes), so the rootfs is copied twice per test binary, not twice per program:
//! one shared copy for native runs and one shared copy every bundle's `root.path` points at
//! (the sandbox's writes stay in sentry memory). Programs therefore keep their scratch files
//! in a directory of their own (`/tmp/<name>.d`) and remove it.
//!
//! Ignored tests (`cargo test -- --ignored`) are programs that reveal a sentry gap too big to
//! fix in passing; their `#[ignore]` reason names it.

use crate::{copy_tree, default_env, rootfs_dir, run_with_timeout, Output, TempDir, TestEnv};
use serde_json::json;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

/// An extra mount a program needs, made the same way natively and in the sandbox.
#[derive(Clone, Debug)]
pub enum ExtraMount {
    /// A tmpfs at `dest` with the given `-o`/OCI options (e.g. `mode=1777`, `size=1m`).
    Tmpfs {
        dest: &'static str,
        options: &'static [&'static str],
    },
    /// A host directory (created per run, filled with `files`) bind-mounted at `dest`.
    Bind {
        dest: &'static str,
        readonly: bool,
        files: &'static [(&'static str, &'static str)],
    },
}

/// How to run one corpus program.
#[derive(Clone, Debug)]
pub struct Program {
    /// Shown in messages.
    pub name: String,
    pub args: Vec<String>,
    pub timeout: Duration,
    pub mounts: Vec<ExtraMount>,
    /// `process.user` (uid, gid); natively `chroot --userspec=UID:GID --groups=`.
    pub user: Option<(u32, u32)>,
}

impl Program {
    /// `/opt/moat-tests/NAME` (a tests/programs/NAME.c).
    pub fn c(name: &str) -> Program {
        Program {
            name: name.to_string(),
            args: vec![format!("/opt/moat-tests/{name}")],
            timeout: crate::default_timeout(),
            mounts: Vec::new(),
            user: None,
        }
    }
    /// `python3 -u -B /opt/moat-tests/python/NAME.py` (-u: output up to a hang is kept; -B: no
    /// .pyc files written into the rootfs).
    pub fn python(name: &str) -> Program {
        Program {
            name: format!("{name}.py"),
            args: vec![
                "/usr/bin/python3".to_string(),
                "-u".to_string(),
                "-B".to_string(),
                format!("/opt/moat-tests/python/{name}.py"),
            ],
            timeout: crate::default_timeout().max(Duration::from_secs(60)),
            mounts: Vec::new(),
            user: None,
        }
    }
    pub fn mount(mut self, m: ExtraMount) -> Program {
        self.mounts.push(m);
        self
    }
    pub fn user(mut self, uid: u32, gid: u32) -> Program {
        self.user = Some((uid, gid));
        self
    }
    pub fn timeout(mut self, t: Duration) -> Program {
        self.timeout = t;
        self
    }
}

/// The two shared rootfs copies of this test binary.
struct Shared {
    native: PathBuf,
    bundle_rootfs: PathBuf,
    // Never dropped (a static); removed by `remove_shared` at exit.
    _dir: TempDir,
}

static SHARED: OnceLock<Shared> = OnceLock::new();
static SHARED_DIR: OnceLock<PathBuf> = OnceLock::new();

extern "C" fn remove_shared() {
    if std::env::var_os("MOAT_TEST_KEEP").is_some() {
        return;
    }
    if let Some(d) = SHARED_DIR.get() {
        // Native mounts live in private mount namespaces that died with their run, so
        // nothing can be mounted below d; check anyway rather than recurse into a mount.
        if crate::mounts_under(d).is_empty() {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

fn shared() -> &'static Shared {
    SHARED.get_or_init(|| {
        let dir = TempDir::new("corpus-shared");
        let native = dir.path().join("native-rootfs");
        let bundle_rootfs = dir.path().join("bundle-rootfs");
        copy_tree(&rootfs_dir(), &native);
        copy_tree(&rootfs_dir(), &bundle_rootfs);
        let _ = SHARED_DIR.set(dir.path().to_path_buf());
        // SAFETY: registers a plain extern "C" function; it runs once at process exit.
        unsafe {
            libc::atexit(remove_shared);
        }
        Shared {
            native,
            bundle_rootfs,
            _dir: dir,
        }
    })
}

/// Whether the test rootfs has python3 (tests/mkrootfs.sh copies the host's when it has one).
pub fn rootfs_has_python() -> bool {
    rootfs_dir().join("opt/moat-tests/PYTHON").exists()
}

/// Single-quotes `s` for sh.
pub fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// Makes one host directory per bind mount of `p` under `base` and fills it.
fn bind_sources(p: &Program, base: &Path) -> Vec<PathBuf> {
    let mut v = Vec::new();
    for (i, m) in p.mounts.iter().enumerate() {
        if let ExtraMount::Bind { files, .. } = m {
            let d = base.join(format!("bind{i}"));
            std::fs::create_dir_all(&d).unwrap();
            for (name, content) in files.iter() {
                let f = d.join(name);
                if let Some(parent) = f.parent() {
                    std::fs::create_dir_all(parent).unwrap();
                }
                std::fs::write(&f, content).unwrap();
            }
            v.push(d);
        }
    }
    v
}

/// Runs `p` natively in new mount/pid/uts/ipc/net namespaces, chrooted into `rootfs`.
pub fn run_native_ns(rootfs: &Path, p: &Program, binds: &[PathBuf]) -> Output {
    let r = sh_quote(&rootfs.to_string_lossy());
    let mut script = String::from("set -e\n");
    // The root is a mount point in a container (it has a line in /proc/self/mountinfo).
    script += &format!("mount --bind {r} {r}\n");
    script += &format!("mount -t proc proc {r}/proc\n");
    script += &format!("mount -t sysfs sysfs {r}/sys\n");
    script += &format!("mount -t tmpfs -o mode=1777 tmpfs {r}/dev/shm\n");
    let mut bi = 0;
    for m in &p.mounts {
        match m {
            ExtraMount::Tmpfs { dest, options } => {
                let d = sh_quote(&format!("{}{dest}", rootfs.display()));
                let o = if options.is_empty() {
                    String::new()
                } else {
                    format!("-o {}", sh_quote(&options.join(",")))
                };
                script += &format!("mkdir -p {d}\nmount -t tmpfs {o} tmpfs {d}\n");
            }
            ExtraMount::Bind { dest, readonly, .. } => {
                let d = sh_quote(&format!("{}{dest}", rootfs.display()));
                let s = sh_quote(&binds[bi].to_string_lossy());
                bi += 1;
                script += &format!("mkdir -p {d}\nmount --bind {s} {d}\n");
                if *readonly {
                    script += &format!("mount -o remount,bind,ro {d}\n");
                }
            }
        }
    }
    script += &format!("chroot {r} hostname {}\n", crate::HOSTNAME);
    script += &format!("chroot {r} ip link set lo up\n");
    let user = match p.user {
        Some((u, g)) => format!("--userspec={u}:{g} --groups= "),
        None => String::new(),
    };
    // setsid: like a container's init, the program leads its own session and process group.
    script += &format!("exec setsid chroot {user}{r} \"$@\"\n");
    let mut cmd = Command::new("unshare");
    cmd.args([
        "--mount",
        "--pid",
        "--fork",
        "--uts",
        "--ipc",
        "--net",
        "--propagation",
        "private",
        "/bin/sh",
        "-c",
        &script,
        "sh",
    ])
    .args(&p.args)
    .env_clear()
    .current_dir("/");
    for kv in default_env() {
        let (k, v) = kv.split_once('=').unwrap();
        cmd.env(k, v);
    }
    // SAFETY: only async-signal-safe calls (umask, setrlimit, sigaction, sigprocmask) between
    // fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            // A container's init starts with every signal at its default action and none
            // blocked, whatever the test runner inherited (a background shell ignores SIGINT and
            // SIGQUIT, for one).
            // The raw syscall: glibc's wrappers refuse its reserved signals 32 and 33.
            let dfl = [0u64; 4]; // struct kernel_sigaction {SIG_DFL, flags 0, restorer 0, mask 0}
            for sig in 1..=64 {
                if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                    libc::syscall(libc::SYS_rt_sigaction, sig, dfl.as_ptr(), 0usize, 8usize);
                }
            }
            let none = 0u64;
            libc::syscall(
                libc::SYS_rt_sigprocmask,
                libc::SIG_SETMASK,
                &none,
                0usize,
                8usize,
            );
            // Nothing but stdio crosses into the program (CLOEXEC rather than close, so
            // that std's exec-error pipe still works).
            libc::syscall(
                libc::SYS_close_range,
                3u32,
                u32::MAX,
                4u32, /* CLOSE_RANGE_CLOEXEC */
            );
            crate::native_limits();
            Ok(())
        });
    }
    run_with_timeout(cmd, p.timeout)
}

/// The OCI config of a corpus sandbox: [`crate::oci_config`] plus `/dev/shm` and `/sys`, the
/// program's own mounts and user, `root.path` = `rootfs` (absolute), and no `no_new_privs`
/// (native runs do not set it either).
pub fn corpus_config(rootfs: &Path, p: &Program, binds: &[PathBuf]) -> serde_json::Value {
    let args: Vec<&str> = p.args.iter().map(String::as_str).collect();
    let mut c = crate::oci_config(&args);
    c["root"]["path"] = json!(rootfs);
    c["process"]["noNewPrivileges"] = json!(false);
    if let Some((u, g)) = p.user {
        c["process"]["user"] = json!({ "uid": u, "gid": g });
    }
    let mounts = c["mounts"].as_array_mut().unwrap();
    mounts.push(
        json!({ "destination": "/dev/shm", "type": "tmpfs", "source": "shm",
                        "options": ["nosuid", "nodev", "mode=1777"] }),
    );
    mounts.push(
        json!({ "destination": "/sys", "type": "sysfs", "source": "sysfs",
                        "options": ["nosuid", "noexec", "nodev", "ro"] }),
    );
    let mut bi = 0;
    for m in &p.mounts {
        match m {
            ExtraMount::Tmpfs { dest, options } => mounts.push(json!({
                "destination": dest, "type": "tmpfs", "source": "tmpfs", "options": options
            })),
            ExtraMount::Bind { dest, readonly, .. } => {
                let mut o = vec!["rbind"];
                if *readonly {
                    o.push("ro");
                }
                mounts.push(json!({
                    "destination": dest, "type": "bind", "source": binds[bi], "options": o
                }));
                bi += 1;
            }
        }
    }
    c
}

/// What one comparison produced (for tests that check more than the output).
pub struct Compared {
    pub native: Output,
    pub moat: Output,
    /// Host directories behind the bind mounts of the native and the sandbox run.
    pub native_binds: Vec<PathBuf>,
    pub moat_binds: Vec<PathBuf>,
    pub env: TestEnv,
}

/// Runs `p` natively and under moat and asserts equal stdout and exit status. The native run
/// must exit 0 and end with `done: ok` (else the program, not moat, is broken).
pub fn compare(p: &Program) -> Option<Compared> {
    if !crate::is_root() {
        eprintln!("SKIP {}: moat integration tests must run as root", p.name);
        return None;
    }
    let sh = shared();
    let env = TestEnv::new(&p.name);
    for m in &p.mounts {
        let dest = match m {
            ExtraMount::Tmpfs { dest, .. } | ExtraMount::Bind { dest, .. } => dest,
        };
        // Mount points must exist in both rootfs copies (concurrent creation is harmless).
        let _ = std::fs::create_dir_all(sh.native.join(dest.trim_start_matches('/')));
        let _ = std::fs::create_dir_all(sh.bundle_rootfs.join(dest.trim_start_matches('/')));
    }
    let native_binds = bind_sources(p, &env.dir().join("native-binds"));
    let native = run_native_ns(&sh.native, p, &native_binds);
    assert!(
        !native.timed_out && native.code == 0 && native.stdout.ends_with("done: ok\n"),
        "{} is broken natively (want exit 0 and a last line `done: ok`):\n{}",
        p.name,
        native.describe()
    );
    let moat_binds = bind_sources(p, &env.dir().join("moat-binds"));
    let dir = env.dir().join("bundle");
    std::fs::create_dir_all(&dir).unwrap();
    let bundle = crate::Bundle { dir };
    bundle.write_config(&corpus_config(&sh.bundle_rootfs, p, &moat_binds));
    let (_, moat) = env.run_bundle_from_root(&bundle, p.timeout);
    assert!(
        !moat.timed_out && moat.stdout == native.stdout && moat.code == native.code,
        "{}: moat differs from native\n{}--- moat: {}",
        p.name,
        line_diff(&native.stdout, &moat.stdout),
        moat.describe()
    );
    Some(Compared {
        native,
        moat,
        native_binds,
        moat_binds,
        env,
    })
}

/// The first differing lines of two outputs, for failure messages.
pub fn line_diff(a: &str, b: &str) -> String {
    let (la, lb): (Vec<_>, Vec<_>) = (a.lines().collect(), b.lines().collect());
    let mut out = String::from("--- first differing lines (native | moat):\n");
    let mut shown = 0;
    for i in 0..la.len().max(lb.len()) {
        let (x, y) = (la.get(i), lb.get(i));
        if x != y {
            out.push_str(&format!(
                "  line {}: {} | {}\n",
                i + 1,
                x.map_or("<none>".to_string(), |s| format!("{s:?}")),
                y.map_or("<none>".to_string(), |s| format!("{s:?}"))
            ));
            shown += 1;
            if shown == 12 {
                break;
            }
        }
    }
    out
}

/// Names (file stems) of the files in `tests/<dir>` ending in `.<ext>`, sorted.
pub fn files_in(dir: &str, ext: &str) -> Vec<String> {
    let d = crate::workspace_root().join("tests").join(dir);
    let mut v: Vec<String> = std::fs::read_dir(&d)
        .unwrap_or_else(|e| panic!("{}: {e}", d.display()))
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            n.strip_suffix(&format!(".{ext}")).map(str::to_string)
        })
        .collect();
    v.sort();
    v
}
