//! Booting a sandbox: filesystems and mounts, stdio, the init process.

use crate::errno::Errno;
use crate::fs::{devfs, hostfd::HostFile, overlay, procfs};
use crate::kernel::{Kernel, Process, RunState, Task, Uts};
use crate::platform::Stub;
use crate::spec::{MountKind, SandboxSpec};
use crate::vfs::file::{FdTable, OpenFile};
use crate::vfs::inode::{FileData, Inode, InodeKind, Meta};
use crate::vfs::mounts::MountEntry;
use crate::vfs::{Creds, PathCtx};
use crate::SentryError;
use std::cell::RefCell;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::rc::Rc;

fn setup(msg: impl Into<String>) -> SentryError {
    SentryError::Setup(msg.into())
}

/// Creates (mkdir -p) `path` below `root` in sentry memory and returns the directory.
fn ensure_dir(root: &Rc<Inode>, path: &[u8]) -> Result<Rc<Inode>, Errno> {
    let mut cur = root.clone();
    for comp in path
        .split(|&c| c == b'/')
        .filter(|c| !c.is_empty() && *c != b".")
    {
        if comp == b".." {
            cur = cur.parent_dir();
            continue;
        }
        overlay::populate(&cur)?;
        let next = match &cur.kind {
            InodeKind::Dir(d) => d.borrow().entries.get(comp).cloned(),
            _ => return Err(Errno::ENOTDIR),
        };
        cur = match next {
            Some(n) if n.is_dir() => n,
            Some(_) => return Err(Errno::ENOTDIR),
            None => {
                let d = Inode::new_dir(cur.dev, 0o755, 0, 0);
                cur.link_child(comp, d.clone())?;
                d
            }
        };
    }
    Ok(cur)
}

/// Attaches `node` at absolute `dest`, replacing whatever the rootfs had there.
fn mount_at(root: &Rc<Inode>, dest: &str, node: Rc<Inode>) -> Result<(), Errno> {
    let d = dest.trim_end_matches('/');
    let (parent, name) = match d.rfind('/') {
        Some(i) => (&d[..i], &d[i + 1..]),
        None => ("", d),
    };
    if name.is_empty() {
        return Err(Errno::EINVAL);
    }
    let dir = ensure_dir(root, parent.as_bytes())?;
    overlay::populate(&dir)?;
    dir.link_child(name.as_bytes(), node)
}

/// Device numbers for bind mounts, so renames across mounts fail with EXDEV.
pub(crate) fn next_dev() -> u64 {
    thread_local! { static DEV: std::cell::Cell<u64> = const { std::cell::Cell::new(0x100) }; }
    DEV.with(|d| {
        let v = d.get();
        d.set(v + 1);
        v
    })
}

fn parse_mode(options: &[String]) -> Option<u32> {
    options
        .iter()
        .find_map(|o| o.strip_prefix("mode="))
        .and_then(|m| u32::from_str_radix(m, 8).ok())
}

fn new_sysfs(ncpu: usize) -> Result<Rc<Inode>, Errno> {
    // Its own device, so that statfs reports SYSFS_MAGIC.
    let root = Inode::new_dir(crate::fs::DEV_SYSFS, 0o555, 0, 0);
    let cpu = ensure_dir(&root, b"devices/system/cpu")?;
    let range = if ncpu > 1 {
        format!("0-{}\n", ncpu - 1)
    } else {
        "0\n".to_string()
    };
    for f in ["online", "possible", "present"] {
        let node = overlay::new_mem_file(crate::fs::DEV_TMPFS, 0o444, 0, 0);
        overlay::write_file(&node, 0, range.as_bytes())?;
        cpu.link_child(f.as_bytes(), node)?;
    }
    ensure_dir(&root, b"fs/cgroup")?;
    ensure_dir(&root, b"kernel")?;
    ensure_dir(&root, b"class/net")?;
    Ok(root)
}

/// Reads a (small) host file given as an O_PATH fd into a sentry-memory file.
fn copy_host_file(src: &OwnedFd, readonly: bool) -> Result<Rc<Inode>, SentryError> {
    let p = format!("/proc/self/fd/{}", src.as_raw_fd());
    let data = std::fs::read(&p).map_err(|e| SentryError::Host {
        op: "read bind mount source",
        err: e,
    })?;
    if data.len() > 64 << 20 {
        return Err(setup("bind-mounted file larger than 64 MiB"));
    }
    let node = Inode::new(
        crate::fs::DEV_TMPFS,
        {
            let mut m = Meta::new(libc::S_IFREG | 0o644, 0, 0);
            m.size = data.len() as u64;
            m
        },
        InodeKind::File(RefCell::new(FileData::Mem(data))),
    );
    node.readonly.set(readonly);
    Ok(node)
}

fn is_dir_fd(fd: &OwnedFd) -> bool {
    // SAFETY: POD out buffer for fstat on our own fd.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: see above.
    unsafe {
        libc::fstat(fd.as_raw_fd(), &mut st) == 0 && st.st_mode & libc::S_IFMT == libc::S_IFDIR
    }
}

pub(crate) fn default_rlimits() -> [(u64, u64); 16] {
    let inf = u64::MAX;
    let mut r = [(inf, inf); 16];
    r[libc::RLIMIT_STACK as usize] = (8 << 20, inf);
    r[libc::RLIMIT_CORE as usize] = (0, inf);
    r[libc::RLIMIT_NOFILE as usize] = (1024, 1024 * 1024);
    r[libc::RLIMIT_NPROC as usize] = (63_000, 63_000);
    r[libc::RLIMIT_MEMLOCK as usize] = (8 << 20, 8 << 20);
    r[libc::RLIMIT_SIGPENDING as usize] = (63_000, 63_000);
    r[libc::RLIMIT_MSGQUEUE as usize] = (819_200, 819_200);
    r[libc::RLIMIT_NICE as usize] = (0, 0);
    r[libc::RLIMIT_RTPRIO as usize] = (0, 0);
    r
}

/// Finds args[0] like execvp: as given when it has a '/', else along PATH.
fn find_executable(k: &Kernel, ctx: &PathCtx, arg0: &str, env: &[String]) -> Option<Vec<u8>> {
    if arg0.contains('/') {
        return Some(arg0.as_bytes().to_vec());
    }
    let path = env
        .iter()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    for dir in path.split(':').filter(|d| !d.is_empty()) {
        let cand = format!("{}/{}", dir.trim_end_matches('/'), arg0);
        if let Ok(i) = crate::vfs::resolve(k, ctx, None, cand.as_bytes(), true) {
            if matches!(i.kind, InodeKind::File(_)) && i.mode() & 0o111 != 0 {
                return Some(cand.into_bytes());
            }
        }
    }
    None
}

/// Adds a single-threaded process running in `stub` to the kernel (not yet loaded or running).
#[allow(clippy::too_many_arguments)]
pub(crate) fn create_process(
    k: &mut Kernel,
    stub: Stub,
    pid: i32,
    ppid: i32,
    creds: Creds,
    fds: FdTable,
    cwd: Rc<Inode>,
    root: Rc<Inode>,
    umask: u32,
    rlimits: [(u64, u64); 16],
) -> Result<(), Errno> {
    let regs = stub.get_regs().map_err(|e| Errno::from_io(&e))?;
    let host_tid = stub.tid;
    // A host terminal on stdio is the new session's controlling terminal.
    let ctty = (0..3).find_map(|fd| {
        let f = fds.get(fd).ok()?;
        let h = f.ops.as_any().downcast_ref::<HostFile>()?;
        h.is_tty.then_some(f)
    });
    k.procs.insert(
        pid,
        Process {
            pid,
            ppid,
            pgid: pid,
            sid: pid,
            threads: vec![pid],
            children: vec![],
            zombie: None,
            stub_pid: stub.pid,
            mm: Default::default(),
            fds: Rc::new(RefCell::new(fds)),
            cwd,
            root,
            umask,
            sigactions: Kernel::new_sigactions(),
            shared_pending: Default::default(),
            creds,
            comm: vec![],
            cmdline: vec![],
            environ: vec![],
            exe: vec![],
            exit_signal: libc::SIGCHLD,
            vfork_parent: None,
            start_ticks: k.ticks(),
            rlimits,
            oom_score_adj: k.oom_score_adj,
            container: crate::kernel::container::SANDBOX_CONTAINER,
            exiting: None,
            stop_report: None,
            cont_report: false,
            stop_waited: false,
            no_new_privs: false,
            keep_caps: false,
            cpu: Default::default(),
            children_cpu: Default::default(),
            personality: 0,
            subreaper: false,
            pdeath_signal: 0,
            parent_tid: ppid,
            dumpable: true,
            leader_exited: None,
            membarrier: 0,
            did_exec: false,
            ctty,
        },
    );
    k.tasks.insert(
        pid,
        Task {
            tid: pid,
            tgid: pid,
            stub,
            regs,
            state: RunState::InSentry,
            sigmask: 0,
            pending: Default::default(),
            saved_mask: None,
            altstack: (0, libc::SS_DISABLE, 0),
            clear_child_tid: 0,
            blocked: None,
            deadline: None,
            vfork_wait: None,
            sent: 0,
            robust_list: (0, 0),
            futex: None,
            ioprio: 0,
            comm: vec![],
            affinity: crate::kernel::all_cpus(k.ncpu),
            nice: 0,
        },
    );
    k.by_host.insert(host_tid, pid);
    Ok(())
}

/// Wraps host fds as the workload's fds 0.. (the workload never holds the host fds).
pub(crate) fn stdio_table(host: &[i32], limit: usize) -> FdTable {
    let mut fds = FdTable::new(limit.max(host.len()));
    for (i, h) in host.iter().enumerate() {
        if *h < 0 {
            continue;
        }
        // SAFETY: F_DUPFD_CLOEXEC on an fd we were handed; result is a fresh fd.
        let dup = unsafe { libc::fcntl(*h, libc::F_DUPFD_CLOEXEC, 100) };
        if dup < 0 {
            continue; // closed stdio stays closed
        }
        // SAFETY: fresh fd from fcntl.
        let owned = unsafe { OwnedFd::from_raw_fd(dup) };
        // SAFETY: F_GETFL only reads flags.
        let fl = unsafe { libc::fcntl(dup, libc::F_GETFL) };
        let acc = if fl < 0 {
            libc::O_RDWR as u32
        } else {
            fl as u32 & libc::O_ACCMODE as u32
        };
        let name = format!("host:[{i}]").into_bytes();
        let f = OpenFile::new(acc, None, name, Box::new(HostFile::new(owned)));
        let _ = fds.install_at(i as i32, f, false);
    }
    fds
}

/// Resolves args[0] and loads the program into process `pid`'s stub.
pub(crate) fn load_program(
    k: &mut Kernel,
    pid: i32,
    args: &[String],
    env: &[String],
) -> Result<(), SentryError> {
    let ctx = crate::syscalls::path_ctx(k, pid);
    let arg0 = args
        .first()
        .ok_or_else(|| setup("process.args must not be empty"))?;
    let exe = find_executable(k, &ctx, arg0, env)
        .ok_or_else(|| SentryError::ExecNotFound(arg0.clone()))?;
    let argv: Vec<Vec<u8>> = args.iter().map(|a| a.as_bytes().to_vec()).collect();
    let envp: Vec<Vec<u8>> = env.iter().map(|a| a.as_bytes().to_vec()).collect();
    let stack = k
        .procs
        .get(&pid)
        .map_or(8 << 20, |p| p.rlimits[libc::RLIMIT_STACK as usize].0);
    // runc's words for the same failure.
    crate::loader::check_arg_limits(&argv, &envp, crate::loader::arg_limit(stack))
        .map_err(|_| setup(format!("exec {arg0}: argument list too long")))?;
    let img = crate::loader::prepare(k, &ctx, None, &exe, argv).map_err(|e| match e {
        Errno::ENOENT => SentryError::ExecNotFound(arg0.clone()),
        e => SentryError::Load {
            path: String::from_utf8_lossy(&exe).into_owned(),
            reason: std::io::Error::from_raw_os_error(e.0).to_string(),
        },
    })?;
    crate::loader::load(k, pid, &img, &envp).map_err(|e| SentryError::Load {
        path: String::from_utf8_lossy(&exe).into_owned(),
        reason: std::io::Error::from_raw_os_error(e.0).to_string(),
    })
}

/// A container's file system: the rootfs overlay with the sentry's /dev and the spec's
/// mounts on it, and its mount table (for /proc/PID/mounts). Only uses the fds it is given, so
/// it also works once the sentry is sealed (a pod's app containers are added then).
pub(crate) fn build_root(
    k: &mut Kernel,
    rootfs: OwnedFd,
    readonly_root: bool,
    writethrough: bool,
    root_dev: u64,
    spec_mounts: Vec<crate::spec::MountSpec>,
    masked: &[String],
    readonly: &[String],
    devices: &[crate::spec::DeviceSpec],
    cid: crate::kernel::container::ContainerId,
) -> Result<(Rc<Inode>, Vec<crate::kernel::container::MountEntry>), SentryError> {
    let mut table: Vec<MountEntry> = Vec::new();
    let root = overlay::new_root(rootfs, readonly_root, writethrough, root_dev).map_err(|e| {
        setup(format!(
            "cannot open rootfs: {}",
            std::io::Error::from_raw_os_error(e.0)
        ))
    })?;
    let mnt_err = |dest: &str, e: Errno| {
        setup(format!(
            "mount {dest}: {}",
            std::io::Error::from_raw_os_error(e.0)
        ))
    };
    table.push(MountEntry::new(
        b"/",
        "overlay",
        "overlay",
        "/",
        &[],
        readonly_root,
        root_dev,
    ));
    let devfs = devfs::new_devfs().map_err(|e| mnt_err("/dev", e))?;
    mount_at(&root, "/dev", devfs.clone()).map_err(|e| mnt_err("/dev", e))?;
    // The sentry's devfs always serves /dev; it shows where the spec mounts /dev (runc's
    // order), or right after the root when the spec has no /dev mount.
    if !spec_mounts
        .iter()
        .any(|m| m.destination.trim_end_matches('/') == "/dev")
    {
        let opts = ["nosuid".to_string(), "mode=755".to_string()];
        table.push(MountEntry::new(
            b"/dev", "tmpfs", "tmpfs", "/", &opts, false, devfs.dev,
        ));
    }
    for m in spec_mounts {
        let dest = m.destination.clone();
        if !dest.starts_with('/') {
            return Err(setup(format!(
                "mount destination {dest:?} must be absolute"
            )));
        }
        let ro = m.options.iter().any(|o| o == "ro");
        let mut root_dir = "/".to_string();
        // A bind mount's type is its host file system's (the runtime finds it).
        let mut shown_type = m.fstype.clone();
        let (node, fstype): (Rc<Inode>, &'static str) = match m.kind {
            MountKind::Proc => (procfs::new_root(), "proc"),
            MountKind::Sysfs => (new_sysfs(k.ncpu).map_err(|e| mnt_err(&dest, e))?, "sysfs"),
            MountKind::Tmpfs | MountKind::Mqueue if dest.trim_end_matches('/') == "/dev" => {
                // The devfs mounted above is this mount.
                table.push(MountEntry::new(
                    dest.as_bytes(),
                    if m.fstype.is_empty() {
                        "tmpfs"
                    } else {
                        &m.fstype
                    },
                    &m.source,
                    "/",
                    &m.options,
                    ro,
                    devfs.dev,
                ));
                continue;
            }
            MountKind::Tmpfs | MountKind::Mqueue => {
                let mqueue = matches!(m.kind, MountKind::Mqueue);
                let mode = parse_mode(&m.options).unwrap_or(0o1777);
                // Each tmpfs is its own filesystem: its own device and its own size= budget.
                let dev = next_dev();
                if let Some(size) = m
                    .options
                    .iter()
                    .find_map(|o| o.strip_prefix("size="))
                    .and_then(|v| crate::fs::quota::parse_size(v, crate::fs::quota::RAM))
                {
                    crate::fs::quota::set_limit(dev, size);
                }
                (
                    Inode::new_dir(dev, mode, 0, 0),
                    if mqueue { "mqueue" } else { "tmpfs" },
                )
            }
            MountKind::Devpts => (devfs::new_devpts(&m.options), "devpts"),
            MountKind::Bind { source, readonly } => {
                root_dir = m.source.clone();
                if is_dir_fd(&source) {
                    (
                        k.shared_bind_dir(source, readonly || ro)
                            .map_err(|e| mnt_err(&dest, e))?,
                        "bind",
                    )
                } else {
                    (copy_host_file(&source, readonly || ro)?, "bind")
                }
            }
            MountKind::BindFile {
                dir,
                name,
                readonly,
            } => {
                root_dir = m.source.clone();
                (
                    overlay::host_file(dir, name, readonly || ro, next_dev())
                        .map_err(|e| mnt_err(&dest, e))?,
                    "bind",
                )
            }
        };
        if ro {
            node.readonly.set(true);
        }
        mount_at(&root, &dest, node.clone()).map_err(|e| mnt_err(&dest, e))?;
        if node.is_dir() {
            k.note_mount_parent(&root, &node);
        }
        if shown_type.is_empty() || shown_type == "bind" || shown_type == "rbind" {
            shown_type = fstype.to_string();
        }
        table.push(MountEntry::new(
            dest.as_bytes(),
            &shown_type,
            if m.source.is_empty() {
                fstype
            } else {
                &m.source
            },
            &root_dir,
            &m.options,
            ro || node.readonly.get(),
            node.dev,
        ));
    }
    for d in devices {
        make_device(&root, d).map_err(|e| mnt_err(&d.path, e))?;
    }
    apply_path_policies(k, &root, masked, readonly, cid);
    Ok((root, table))
}

/// A `linux.devices` node, as runc makes it with mknod: the devices the sentry implements
/// work (/dev/fuse and other host hardware do not reach the sandbox: opening them fails
/// with ENXIO, as for a node without a driver); a `p` entry is a FIFO.
fn make_device(root: &Rc<Inode>, d: &crate::spec::DeviceSpec) -> Result<(), Errno> {
    use crate::vfs::inode::{makedev, DevKind};
    if !d.path.starts_with('/') || d.path.split('/').any(|c| c == "..") {
        return Err(Errno::EINVAL);
    }
    let (fmt, kind) = match d.kind {
        'c' | 'u' => (
            libc::S_IFCHR,
            InodeKind::Device(DevKind::from_rdev(d.major, d.minor).unwrap_or(DevKind::Unbacked)),
        ),
        'b' => (libc::S_IFBLK, InodeKind::Device(DevKind::Unbacked)),
        'p' => (libc::S_IFIFO, InodeKind::Fifo(RefCell::new(None))),
        _ => return Err(Errno::EINVAL),
    };
    let mut m = Meta::new(fmt | (d.mode & 0o7777), d.uid, d.gid);
    if fmt != libc::S_IFIFO {
        m.rdev = makedev(d.major, d.minor);
    }
    mount_at(root, &d.path, Inode::new(crate::fs::DEV_DEVFS, m, kind))
}

/// `linux.maskedPaths` and `linux.readonlyPaths`, as runc applies them: a masked directory
/// becomes an empty read-only directory and a masked file /dev/null; a read-only path
/// refuses writes (EROFS) below it. Paths that do not exist are skipped (runc ignores
/// ENOENT). Inside a procfs mount the policy is kept by procfs (its nodes are made on lookup).
fn apply_path_policies(
    k: &mut Kernel,
    root: &Rc<Inode>,
    masked: &[String],
    readonly: &[String],
    cid: crate::kernel::container::ContainerId,
) {
    for (path, mask) in masked
        .iter()
        .map(|p| (p, true))
        .chain(readonly.iter().map(|p| (p, false)))
    {
        let comps: Vec<&str> = path
            .split('/')
            .filter(|c| !c.is_empty() && *c != ".")
            .collect();
        if comps.is_empty() || comps.contains(&"..") {
            continue;
        }
        let mut parent = root.clone();
        for (i, c) in comps.iter().enumerate() {
            if let InodeKind::Proc(_) = parent.kind {
                let rel = comps[i..].join("/");
                let e = k.proc_policies.entry(cid).or_default();
                if mask {
                    e.0.push(rel)
                } else {
                    e.1.push(rel)
                }
                break;
            }
            if overlay::populate(&parent).is_err() {
                break;
            }
            let found = match &parent.kind {
                InodeKind::Dir(d) => d.borrow().entries.get(c.as_bytes()).cloned(),
                _ => None,
            };
            let Some(node) = found else { break };
            if i + 1 < comps.len() {
                parent = node;
                continue;
            }
            if mask {
                let cover = if node.is_dir() {
                    let d = Inode::new_dir(next_dev(), 0o555, 0, 0);
                    d.readonly.set(true);
                    d
                } else {
                    devfs::null_node()
                };
                let _ = parent.link_child(c.as_bytes(), cover);
            } else {
                set_readonly_tree(&node);
            }
        }
    }
}

/// Marks `node` and what is below it read-only (children made later inherit it).
fn set_readonly_tree(node: &Rc<Inode>) {
    node.readonly.set(true);
    if let InodeKind::Dir(d) = &node.kind {
        let kids: Vec<Rc<Inode>> = d.borrow().entries.values().cloned().collect();
        for kid in kids {
            set_readonly_tree(&kid);
        }
    }
}

pub fn boot(spec: SandboxSpec) -> Result<Kernel, SentryError> {
    if spec.args.is_empty() {
        return Err(setup("process.args must not be empty"));
    }
    procfs::note_host_proc();
    crate::platform::select(spec.options.platform).map_err(|e| setup(e.to_string()))?;
    let pin = spec
        .options
        .pin_cpu
        .unwrap_or(spec.options.platform == crate::platform::Kind::Ptrace);
    if pin {
        // Keep the sentry and every stub (they inherit affinity) on the CPU we boot on:
        // ptrace hand-offs between CPUs are expensive on small VMs.
        // SAFETY: sched_getcpu has no arguments; CPU_SET on a local set.
        unsafe {
            let cpu = libc::sched_getcpu();
            if cpu >= 0 {
                let mut set: libc::cpu_set_t = std::mem::zeroed();
                libc::CPU_SET(cpu as usize, &mut set);
                libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
            }
        }
    }
    let uts = Uts {
        hostname: spec.hostname.as_bytes().to_vec(),
        // A new UTS namespace starts with "(none)" unless the spec names a domain.
        domainname: if spec.domainname.is_empty() {
            b"(none)".to_vec()
        } else {
            spec.domainname.as_bytes().to_vec()
        },
        release: spec.options.uname_release.as_bytes().to_vec(),
    };
    let mut k = Kernel::new(uts).map_err(|e| SentryError::Host {
        op: "kernel init",
        err: std::io::Error::from_raw_os_error(e.0),
    })?;
    k.oom_score_adj = spec.oom_score_adj.clamp(-1000, 1000);
    for (key, value) in &spec.sysctl {
        crate::fs::procfs::set_sysctl(&mut k, key, value);
    }

    // Filesystems.
    let (root, mounts) = build_root(
        &mut k,
        spec.rootfs,
        spec.readonly_root,
        !spec.options.overlay,
        crate::fs::DEV_ROOT,
        spec.mounts,
        &spec.masked_paths,
        &spec.readonly_paths,
        &spec.devices,
        crate::kernel::container::SANDBOX_CONTAINER,
    )?;
    k.mounts = mounts;

    // Credentials.
    let mut creds = Creds::root();
    creds.uid = spec.uid;
    creds.euid = spec.uid;
    creds.suid = spec.uid;
    creds.fsuid = spec.uid;
    creds.gid = spec.gid;
    creds.egid = spec.gid;
    creds.sgid = spec.gid;
    creds.fsgid = spec.gid;
    creds.groups = spec.additional_gids.clone();
    creds.groups.sort_unstable(); // the kernel sorts them at setgroups, as for runc
    if spec.uid != 0 {
        creds.cap_effective = 0;
        creds.cap_permitted = 0;
    }
    if let Some(c) = spec.capabilities {
        creds.cap_effective = c.effective;
        creds.cap_permitted = c.permitted;
        creds.cap_inheritable = c.inheritable;
        creds.cap_bounding = c.bounding;
        creds.cap_ambient = c.ambient;
    }

    // stdio: the workload gets sentry files wrapping the host fds; it never holds them.
    let mut fds = stdio_table(&spec.stdio, 1024);
    let mut rlimits = default_rlimits();
    for r in &spec.rlimits {
        if (r.resource as usize) < rlimits.len() {
            rlimits[r.resource as usize] = (r.soft, r.hard);
        }
    }
    fds.limit = rlimits[libc::RLIMIT_NOFILE as usize].0.min(1 << 20) as usize;

    // The init process.
    let cwd = {
        let ctx = PathCtx {
            root: root.clone(),
            cwd: root.clone(),
            creds: creds.clone(),
            pid: 1,
            tid: 1,
        };
        crate::vfs::resolve(&k, &ctx, None, spec.cwd.as_bytes(), true)
            .ok()
            .filter(|c| c.is_dir())
            .unwrap_or_else(|| {
                ensure_dir(&root, spec.cwd.as_bytes()).unwrap_or_else(|_| root.clone())
            })
    };
    crate::loader::init_host_aux();
    crate::mm::vdso::init();
    let memfile = crate::mm::memfile::init().ok();
    if memfile.is_none() {
        tracing::warn!("no memory file: file mappings will be private copies");
    }
    // Workload memory in the memory file, unless the debugging switch asks for stub memory.
    crate::mm::space::enable(std::env::var_os("MOAT_STUB_MEMORY").is_none());
    // Syscall patching needs sentry-owned memory (code pages are patched in private copies).
    crate::platform::systrap::enable_patching(
        spec.options.syscall_patch
            && spec.options.platform == crate::platform::Kind::Systrap
            && crate::mm::space::enabled()
            && crate::platform::systrap::thread::xstate_params().is_some(),
    );
    let stub = Stub::spawn(memfile).map_err(|e| SentryError::Host {
        op: "spawn stub",
        err: e,
    })?;
    // The zygote: a clean stub that is never run, forked whenever `moat exec` needs a new
    // process (the sealed sentry cannot fork).
    let zygote = Stub::spawn(memfile).map_err(|e| SentryError::Host {
        op: "spawn stub",
        err: e,
    })?;
    k.zygote = Some(zygote);
    let pid = k.alloc_pid_in(0).map_err(|_| setup("no pid"))?;
    let umask = spec.umask.unwrap_or(0o022);
    create_process(
        &mut k,
        stub,
        pid,
        0,
        creds,
        fds,
        cwd,
        root.clone(),
        umask,
        rlimits,
    )
    .map_err(|e| SentryError::Host {
        op: "ptrace",
        err: std::io::Error::from_raw_os_error(e.0),
    })?;
    if let Some(p) = k.procs.get_mut(&pid) {
        p.no_new_privs = spec.no_new_privs;
    }
    k.seccomp = spec.seccomp.clone();
    k.refresh_seccomp_flag();
    k.root = Some(root);
    load_program(&mut k, pid, &spec.args, &spec.env)?;
    Ok(k)
}
