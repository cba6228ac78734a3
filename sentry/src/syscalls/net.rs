//! Socket syscalls: socket, socketpair, bind, listen, accept4, connect, send*/recv* (with
//! msghdr, iovecs, names and control messages), shutdown, get/setsockopt, getsockname and
//! getpeername. The socket objects live in `crate::net`; this file decodes arguments, copies
//! workload memory, installs fds and turns "would block" into a wait.

use super::{path_ctx, SysErr, SysResult};
use crate::errno::Errno;
use crate::kernel::signal::{SigInfo, SIGPIPE};
use crate::kernel::{Blocked, Kernel, Tid};
use crate::mm::Mem;
use crate::net::inet::{InetSocket, SOCKADDR_MAX};
use crate::net::unix::{BoundSlot, Endpoint, Kind, UnixAddr, UnixSocket, SCM_MAX_FD};
use crate::net::{self, Sock};
use crate::vfs::file::{OpenFile, POLLIN, POLLOUT};
use crate::vfs::inode::{Inode, InodeKind, Meta};
use crate::vfs::{self, may_access, MAY_EXEC, MAY_WRITE};
use std::rc::Rc;
use std::time::{Duration, Instant};

/// Largest single transfer we stage through sentry memory (as file.rs).
const MAX_IO: usize = 8 << 20;
/// Largest receive staged for a host socket: a stream may return less than asked, and no
/// datagram (GRO-coalesced ones included) is longer; MSG_TRUNC lengths come from the host.
const INET_STAGE: usize = 256 << 10;
/// UIO_MAXIOV.
const MAX_IOV: u64 = 1024;
/// Largest control buffer a sendmsg may carry (Linux's optmem_max is 20 KiB).
const MAX_CONTROL: usize = 64 * 1024;
const CMSG_HDR: usize = 16;
const MSGHDR_SIZE: u64 = 56;
const MMSGHDR_SIZE: u64 = 64;
const CAP_NET_BIND_SERVICE: u32 = 10;
const CAP_SETGID: u32 = 6;
const CAP_SETUID: u32 = 7;
const CAP_SYS_ADMIN: u32 = 21;

fn cmsg_align(n: usize) -> usize {
    (n + 7) & !7
}

/// The open file behind a socket call's fd. An O_PATH descriptor is no file to these calls:
/// EBADF, as Linux's sockfd_lookup gives, before any ENOTSOCK.
fn get_file(k: &Kernel, tid: Tid, fd: u64) -> Result<Rc<OpenFile>, Errno> {
    let f = k.proc_of(tid).fds.borrow().get(fd as i32)?;
    if f.flags.get() & libc::O_PATH as u32 != 0 {
        return Err(Errno::EBADF);
    }
    Ok(f)
}

/// SCM_CREDENTIALS as the kernel stamps them: the caller's pid and *real* ids.
fn scm_creds(k: &Kernel, tid: Tid) -> net::unix::Ucred {
    let p = k.proc_of(tid);
    net::unix::Ucred {
        pid: p.pid,
        uid: p.creds.uid,
        gid: p.creds.gid,
    }
}

/// SO_PEERCRED as connect/listen record it: pid and *effective* ids.
fn peer_creds(k: &Kernel, tid: Tid) -> net::unix::Ucred {
    let p = k.proc_of(tid);
    net::unix::Ucred {
        pid: p.pid,
        uid: p.creds.euid,
        gid: p.creds.egid,
    }
}

/// Parks the caller until something changes (and `host` is ready, for host sockets), or
/// fails with EAGAIN once the socket's SO_RCVTIMEO/SO_SNDTIMEO deadline has passed. The
/// deadline lives on the task so it survives the re-runs of the blocked syscall.
pub(crate) fn wait_for(
    k: &mut Kernel,
    tid: Tid,
    host: Option<(i32, u32)>,
    timeout: Option<Duration>,
) -> SysErr {
    // A timeout too far away to represent (tv_sec near i64::MAX) is no deadline at all.
    let deadline = timeout.and_then(|to| {
        let t = k.task_mut(tid);
        if t.deadline.is_none() {
            t.deadline = Instant::now().checked_add(to);
        }
        t.deadline
    });
    if deadline.is_some_and(|d| Instant::now() >= d) {
        return Errno::EAGAIN.into();
    }
    SysErr::Block(Blocked {
        nr: 0,
        args: [0; 6],
        deadline,
        host_fds: host.into_iter().collect(),
        // Linux: a socket wait with a timeout is not restarted after a signal handler.
        no_restart: timeout.is_some(),
    })
}

fn sigpipe(k: &mut Kernel, tid: Tid) {
    let pid = k.task(tid).tgid;
    k.send_to_thread(tid, SigInfo::user(SIGPIPE, pid, 0));
}

fn install(k: &Kernel, tid: Tid, file: Rc<OpenFile>, cloexec: bool) -> Result<i32, Errno> {
    k.proc_of(tid).fds.borrow_mut().install(file, cloexec, 0)
}

fn unix_file(ep: Rc<Endpoint>, nonblock: bool, uid: u32, gid: u32) -> Rc<OpenFile> {
    let sock = UnixSocket::new(ep, uid, gid);
    let name = sock.common.proc_name();
    let flags = libc::O_RDWR as u32 | if nonblock { libc::O_NONBLOCK as u32 } else { 0 };
    OpenFile::new(flags, None, name, Box::new(sock))
}

fn inet_file(s: InetSocket, nonblock: bool) -> Rc<OpenFile> {
    let name = s.common.proc_name();
    let flags = libc::O_RDWR as u32 | if nonblock { libc::O_NONBLOCK as u32 } else { 0 };
    OpenFile::new(flags, None, name, Box::new(s))
}

/// Splits socket(2)'s type into (base type, nonblock, cloexec).
fn split_type(ty: i32) -> Result<(i32, bool, bool), Errno> {
    let flags = libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
    let base = ty & !flags;
    if base & !0xf != 0 {
        return Err(Errno::EINVAL);
    }
    Ok((
        base,
        ty & libc::SOCK_NONBLOCK != 0,
        ty & libc::SOCK_CLOEXEC != 0,
    ))
}

/// Reads a sockaddr the workload passes in.
fn read_sockaddr(mem: &Mem, addr: u64, len: u64) -> Result<Vec<u8>, Errno> {
    let len = len as u32 as i32;
    if len < 0 || len as usize > SOCKADDR_MAX {
        return Err(Errno::EINVAL);
    }
    if len == 0 {
        return Ok(Vec::new());
    }
    mem.read_vec(addr, len as usize)
}

/// Writes a sockaddr out through (addr, *lenp): copies what fits and stores the full length.
fn write_sockaddr(mem: &Mem, addr: u64, lenp: u64, sa: &[u8]) -> Result<(), Errno> {
    if addr == 0 {
        return Ok(());
    }
    let len = mem.read_u32(lenp)? as i32;
    if len < 0 {
        return Err(Errno::EINVAL);
    }
    let n = sa.len().min(len as usize);
    mem.write(addr, &sa[..n])?;
    mem.write_u32(lenp, sa.len() as u32)
}

// ---------------------------------------------------------------------------------------------
// socket, socketpair

pub fn sys_socket(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let (domain, proto) = (a[0] as i32, a[2] as i32);
    let (base, nonblock, cloexec) = split_type(a[1] as i32)?;
    let (uid, gid) = {
        let c = &k.proc_of(tid).creds;
        (c.fsuid, c.fsgid)
    };
    let file = match domain {
        libc::AF_UNIX => {
            let kind = Kind::from_type(base)?;
            if proto != 0 && proto != libc::AF_UNIX {
                return Err(Errno::EPROTONOSUPPORT.into());
            }
            let ep = Endpoint::new(kind, scm_creds(k, tid));
            unix_file(ep, nonblock, uid, gid)
        }
        libc::AF_INET | libc::AF_INET6 | libc::AF_NETLINK => {
            inet_file(InetSocket::new(domain, base, proto, uid, gid)?, nonblock)
        }
        // Packet sockets need CAP_NET_RAW on Linux; the sandbox never grants host access.
        libc::AF_PACKET => return Err(Errno::EPERM.into()),
        _ => return Err(Errno::EAFNOSUPPORT.into()),
    };
    Ok(install(k, tid, file, cloexec)? as i64)
}

pub fn sys_socketpair(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let (domain, proto) = (a[0] as i32, a[2] as i32);
    let (base, nonblock, cloexec) = split_type(a[1] as i32)?;
    match domain {
        libc::AF_UNIX => {}
        libc::AF_INET | libc::AF_INET6 | libc::AF_NETLINK => return Err(Errno::EOPNOTSUPP.into()),
        _ => return Err(Errno::EAFNOSUPPORT.into()),
    }
    let kind = Kind::from_type(base)?;
    if proto != 0 && proto != libc::AF_UNIX {
        return Err(Errno::EPROTONOSUPPORT.into());
    }
    let mem = k.mem_of(tid)?;
    let (uid, gid) = {
        let c = &k.proc_of(tid).creds;
        (c.fsuid, c.fsgid)
    };
    // SO_PEERCRED of a socketpair names the creator on both ends.
    let (x, y) = Endpoint::pair(kind, peer_creds(k, tid));
    for ep in [&x, &y] {
        ep.owner.set(scm_creds(k, tid));
    }
    let fds = k.proc_of(tid).fds.clone();
    let fx = fds
        .borrow_mut()
        .install(unix_file(x, nonblock, uid, gid), cloexec, 0)?;
    let fy = match fds
        .borrow_mut()
        .install(unix_file(y, nonblock, uid, gid), cloexec, 0)
    {
        Ok(fd) => fd,
        Err(e) => {
            let gone = fds.borrow_mut().remove(fx);
            drop(gone);
            return Err(e.into());
        }
    };
    let mut out = [0u8; 8];
    out[0..4].copy_from_slice(&fx.to_le_bytes());
    out[4..8].copy_from_slice(&fy.to_le_bytes());
    if let Err(e) = mem.write(a[3], &out) {
        let g1 = fds.borrow_mut().remove(fx);
        let g2 = fds.borrow_mut().remove(fy);
        drop((g1, g2));
        return Err(e.into());
    }
    Ok(0)
}

// ---------------------------------------------------------------------------------------------
// AF_UNIX names through the VFS

/// Finds the endpoint a sockaddr_un names (connect, sendto).
fn resolve_unix(k: &Kernel, tid: Tid, addr: &UnixAddr, kind: Kind) -> Result<Rc<Endpoint>, Errno> {
    let ep = match addr {
        UnixAddr::Abstract(name) => {
            // Abstract names are per type: another type's name is simply not there.
            net::unix::lookup_abstract(kind, name).ok_or(Errno::ECONNREFUSED)?
        }
        UnixAddr::Path(p) => {
            let ctx = path_ctx(k, tid);
            let inode = vfs::resolve(k, &ctx, None, p, true)?;
            // Connecting needs write permission on the socket file, as on Linux.
            if !may_access(&inode.meta.borrow(), &ctx.creds, MAY_WRITE) {
                return Err(Errno::EACCES);
            }
            match &inode.kind {
                InodeKind::Socket(slot) => slot.endpoint().ok_or(Errno::ECONNREFUSED)?,
                _ => return Err(Errno::ECONNREFUSED),
            }
        }
    };
    if ep.kind != kind {
        return Err(Errno(libc::EPROTOTYPE));
    }
    Ok(ep)
}

/// bind(2) to a path: creates the socket file (S_IFSOCK, 0777 & ~umask) pointing at `ep`.
fn bind_path(k: &Kernel, tid: Tid, ep: &Rc<Endpoint>, path: &[u8]) -> Result<(), Errno> {
    if ep.is_bound() {
        return Err(Errno::EINVAL);
    }
    let ctx = path_ctx(k, tid);
    let (dir, name) = vfs::resolve_parent(k, &ctx, None, path)?;
    if name.is_empty() || name == b"." || name == b".." {
        return Err(Errno::EADDRINUSE);
    }
    let InodeKind::Dir(d) = &dir.kind else {
        return Err(Errno::EACCES);
    };
    if dir.readonly.get() {
        return Err(Errno::EROFS);
    }
    if !may_access(&dir.meta.borrow(), &ctx.creds, MAY_WRITE | MAY_EXEC) {
        return Err(Errno::EACCES);
    }
    crate::fs::overlay::populate(&dir)?;
    if d.borrow().entries.contains_key(&name) {
        return Err(Errno::EADDRINUSE);
    }
    let umask = k.proc_of(tid).umask;
    let meta = Meta::new(
        libc::S_IFSOCK | (0o777 & !umask),
        ctx.creds.fsuid,
        ctx.creds.fsgid,
    );
    let slot = BoundSlot::default();
    slot.set(ep);
    let inode = Inode::new(dir.dev, meta, InodeKind::Socket(slot));
    dir.link_child(&name, inode)?;
    ep.set_path_name(path.to_vec())
}

// ---------------------------------------------------------------------------------------------
// bind, listen, accept, connect, names, shutdown

pub fn sys_bind(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let f = get_file(k, tid, a[0])?;
    let mem = k.mem_of(tid)?;
    let raw = read_sockaddr(&mem, a[1], a[2])?;
    match net::sock_of(&f)? {
        Sock::Unix(u) => {
            let ep = u.ep.clone();
            match UnixAddr::parse(&raw)? {
                None => ep.autobind()?,
                Some(UnixAddr::Abstract(n)) => ep.bind_abstract(n)?,
                Some(UnixAddr::Path(p)) => bind_path(k, tid, &ep, &p)?,
            }
        }
        Sock::Inet(s) => {
            s.check_addr(&raw, false)?;
            let port = u16::from_be_bytes([raw[2], raw[3]]);
            let fam = u16::from_le_bytes([raw[0], raw[1]]) as i32;
            if !s.is_netlink()
                && fam != libc::AF_UNSPEC
                && port != 0
                && port < 1024
                && !k.proc_of(tid).creds.has_cap(CAP_NET_BIND_SERVICE)
            {
                return Err(Errno::EACCES.into());
            }
            s.bind(&raw)?;
        }
    }
    Ok(0)
}

pub fn sys_listen(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let f = get_file(k, tid, a[0])?;
    let backlog = a[1] as i32;
    match net::sock_of(&f)? {
        Sock::Unix(u) => u.ep.listen(backlog, peer_creds(k, tid))?,
        Sock::Inet(s) => s.listen(backlog)?,
    }
    k.dirty = true;
    Ok(0)
}

fn accept_common(k: &mut Kernel, tid: Tid, fd: u64, addr: u64, lenp: u64, flags: u64) -> SysResult {
    let allowed = (libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC) as u64;
    if flags & !allowed != 0 {
        return Err(Errno::EINVAL.into());
    }
    let nonblock = flags & libc::SOCK_NONBLOCK as u64 != 0;
    let cloexec = flags & libc::SOCK_CLOEXEC as u64 != 0;
    let f = get_file(k, tid, fd)?;
    let mem = k.mem_of(tid)?;
    let (uid, gid) = {
        let c = &k.proc_of(tid).creds;
        (c.fsuid, c.fsgid)
    };
    let (file, sa) = match net::sock_of(&f)? {
        Sock::Unix(u) => {
            let srv = match u.ep.accept() {
                Ok(s) => s,
                Err(e) if e == Errno::EAGAIN && !f.nonblocking() => {
                    return Err(wait_for(k, tid, None, u.common.rcvtimeo.get()));
                }
                Err(e) => return Err(e.into()),
            };
            srv.owner.set(scm_creds(k, tid));
            // The client's name (usually unnamed: just the family).
            let sa = UnixAddr::encode(srv.peer_name().ok().flatten().as_ref());
            (unix_file(srv, nonblock, uid, gid), sa)
        }
        Sock::Inet(s) => match s.accept(uid, gid) {
            Ok((ns, sa)) => (inet_file(ns, nonblock), sa),
            Err(e) if e == Errno::EAGAIN && !f.nonblocking() => {
                let to = s.common.rcvtimeo.get();
                return Err(wait_for(k, tid, Some((s.raw(), POLLIN)), to));
            }
            Err(e) => return Err(e.into()),
        },
    };
    k.dirty = true;
    write_sockaddr(&mem, addr, lenp, &sa)?;
    Ok(install(k, tid, file, cloexec)? as i64)
}

pub fn sys_accept(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    accept_common(k, tid, a[0], a[1], a[2], 0)
}

pub fn sys_accept4(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    accept_common(k, tid, a[0], a[1], a[2], a[3])
}

pub fn sys_connect(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let f = get_file(k, tid, a[0])?;
    let mem = k.mem_of(tid)?;
    let raw = read_sockaddr(&mem, a[1], a[2])?;
    match net::sock_of(&f)? {
        Sock::Unix(u) => {
            let ep = u.ep.clone();
            ep.owner.set(scm_creds(k, tid));
            // AF_UNSPEC dissolves a datagram socket's association.
            if ep.kind == Kind::Dgram
                && raw.len() >= 2
                && u16::from_le_bytes([raw[0], raw[1]]) == libc::AF_UNSPEC as u16
            {
                ep.connect_dgram(None)?;
                return Ok(0);
            }
            let addr = UnixAddr::parse(&raw)?.ok_or(Errno::EINVAL)?;
            let target = resolve_unix(k, tid, &addr, ep.kind)?;
            if ep.kind == Kind::Dgram {
                ep.connect_dgram(Some(&target))?;
                return Ok(0);
            }
            match ep.connect(&target, peer_creds(k, tid)) {
                Ok(()) => {
                    k.dirty = true;
                    Ok(0)
                }
                // Full backlog: Linux makes blocking connects wait, nonblocking ones EAGAIN.
                Err(e) if e == Errno::EAGAIN && !f.nonblocking() => {
                    Err(wait_for(k, tid, None, u.common.sndtimeo.get()))
                }
                Err(e) => Err(e.into()),
            }
        }
        Sock::Inet(s) => inet_connect(k, tid, &f, s, &raw),
    }
}

/// connect(2) on a host socket. Nonblocking: the host's answer (EINPROGRESS included).
/// Blocking: wait for POLLOUT after EINPROGRESS, then report SO_ERROR.
fn inet_connect(k: &mut Kernel, tid: Tid, f: &OpenFile, s: &InetSocket, raw: &[u8]) -> SysResult {
    let timeout = s.common.sndtimeo.get();
    if s.connecting.get() {
        let r = s.ready();
        if r & (POLLOUT | crate::vfs::file::POLLERR | crate::vfs::file::POLLHUP) == 0 {
            return match wait_for(k, tid, Some((s.raw(), POLLOUT)), timeout) {
                SysErr::Errno(_) => {
                    // SO_SNDTIMEO passed: Linux reports EINPROGRESS and keeps connecting.
                    s.connecting.set(false);
                    Err(Errno::EINPROGRESS.into())
                }
                other => Err(other),
            };
        }
        s.connecting.set(false);
        let err = s.so_error()?;
        return if err == 0 {
            Ok(0)
        } else {
            Err(Errno(err).into())
        };
    }
    s.check_addr(raw, true)?;
    match s.connect(raw) {
        Ok(()) => Ok(0),
        Err(e) if e == Errno::EINPROGRESS && !f.nonblocking() => {
            s.connecting.set(true);
            match wait_for(k, tid, Some((s.raw(), POLLOUT)), timeout) {
                SysErr::Errno(_) => {
                    s.connecting.set(false);
                    Err(Errno::EINPROGRESS.into())
                }
                other => Err(other),
            }
        }
        Err(e) => Err(e.into()),
    }
}

fn name_common(k: &mut Kernel, tid: Tid, a: [u64; 6], peer: bool) -> SysResult {
    let f = get_file(k, tid, a[0])?;
    let mem = k.mem_of(tid)?;
    let sa = match net::sock_of(&f)? {
        Sock::Unix(u) => {
            if peer {
                UnixAddr::encode(u.ep.peer_name()?.as_ref())
            } else {
                UnixAddr::encode(u.ep.name().as_ref())
            }
        }
        Sock::Inet(s) => s.name(peer)?,
    };
    if a[1] == 0 {
        return Err(Errno::EFAULT.into());
    }
    write_sockaddr(&mem, a[1], a[2], &sa)?;
    Ok(0)
}

pub fn sys_getsockname(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    name_common(k, tid, a, false)
}

pub fn sys_getpeername(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    name_common(k, tid, a, true)
}

pub fn sys_shutdown(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let f = get_file(k, tid, a[0])?;
    match net::sock_of(&f)? {
        Sock::Unix(u) => u.ep.shutdown(a[1] as i32)?,
        Sock::Inet(s) => s.shutdown(a[1] as i32)?,
    }
    k.dirty = true;
    Ok(0)
}

// ---------------------------------------------------------------------------------------------
// Sending

/// What sendmsg carries besides data, already checked.
struct Control {
    rights: Vec<Rc<OpenFile>>,
    creds: Option<net::unix::Ucred>,
    /// Control bytes passed to a host socket (IP-level ancillary data only).
    host: Vec<u8>,
}

/// Walks a cmsg buffer: (level, type, data) for each well-formed header.
fn cmsgs(ctl: &[u8]) -> Result<Vec<(i32, i32, &[u8])>, Errno> {
    let mut out = Vec::new();
    let mut off = 0;
    while off + CMSG_HDR <= ctl.len() {
        let len = u64::from_le_bytes(ctl[off..off + 8].try_into().map_err(|_| Errno::EINVAL)?);
        let level = i32::from_le_bytes(
            ctl[off + 8..off + 12]
                .try_into()
                .map_err(|_| Errno::EINVAL)?,
        );
        let ty = i32::from_le_bytes(
            ctl[off + 12..off + 16]
                .try_into()
                .map_err(|_| Errno::EINVAL)?,
        );
        if len < CMSG_HDR as u64 || len > (ctl.len() - off) as u64 {
            return Err(Errno::EINVAL);
        }
        let len = len as usize;
        out.push((level, ty, &ctl[off + CMSG_HDR..off + len]));
        off += cmsg_align(len);
    }
    Ok(out)
}

fn parse_control(k: &Kernel, tid: Tid, unix: bool, ctl: &[u8]) -> Result<Control, Errno> {
    let mut c = Control {
        rights: Vec::new(),
        creds: None,
        host: Vec::new(),
    };
    if ctl.is_empty() {
        return Ok(c);
    }
    let p = k.proc_of(tid);
    for (level, ty, data) in cmsgs(ctl)? {
        if !unix {
            // Host sockets get IP-level ancillary data (pktinfo, tos, ttl, GSO size) only:
            // never anything at SOL_SOCKET, where SCM_RIGHTS would name sentry fds.
            if level == libc::SOL_SOCKET
                || !(level == libc::IPPROTO_IP
                    || level == libc::IPPROTO_IPV6
                    || level == libc::IPPROTO_UDP)
            {
                return Err(Errno::EINVAL);
            }
            let mut hdr = ((CMSG_HDR + data.len()) as u64).to_le_bytes().to_vec();
            hdr.extend_from_slice(&level.to_le_bytes());
            hdr.extend_from_slice(&ty.to_le_bytes());
            c.host.extend_from_slice(&hdr);
            c.host.extend_from_slice(data);
            c.host.resize(cmsg_align(c.host.len()), 0);
            continue;
        }
        if level != libc::SOL_SOCKET {
            return Err(Errno::EINVAL);
        }
        match ty {
            libc::SCM_RIGHTS => {
                let n = data.len() / 4;
                if c.rights.len() + n > SCM_MAX_FD {
                    return Err(Errno::EINVAL);
                }
                let fds = p.fds.borrow();
                for chunk in data.chunks_exact(4) {
                    let fd = i32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
                    c.rights.push(fds.get(fd)?);
                }
            }
            libc::SCM_CREDENTIALS => {
                if data.len() != 12 {
                    return Err(Errno::EINVAL);
                }
                let pid = i32::from_le_bytes([data[0], data[1], data[2], data[3]]);
                let uid = u32::from_le_bytes([data[4], data[5], data[6], data[7]]);
                let gid = u32::from_le_bytes([data[8], data[9], data[10], data[11]]);
                let cr = &p.creds;
                // Only one's own identity may be claimed without privilege (scm_check_creds).
                let pid = crate::kernel::pidns::internal(crate::kernel::pidns::ns_of(p.pid), pid);
                let pid_ok = pid == p.pid || cr.has_cap(CAP_SYS_ADMIN);
                let uid_ok = [cr.uid, cr.euid, cr.suid].contains(&uid) || cr.has_cap(CAP_SETUID);
                let gid_ok = [cr.gid, cr.egid, cr.sgid].contains(&gid) || cr.has_cap(CAP_SETGID);
                if !(pid_ok && uid_ok && gid_ok) {
                    return Err(Errno::EPERM);
                }
                c.creds = Some(net::unix::Ucred { pid, uid, gid });
            }
            _ => return Err(Errno::EINVAL),
        }
    }
    Ok(c)
}

/// A blocking send or write on a TCP socket returns only when all of `data` is queued, as on
/// Linux: the sentry's host socket is nonblocking, so what it took so far is kept on the task
/// (`Task::sent`) while the syscall waits for room, and the re-run sends the rest. A timeout
/// (SO_SNDTIMEO) or a signal after some progress returns the count so far.
pub(crate) fn send_all(
    k: &mut Kernel,
    tid: Tid,
    host_fd: i32,
    timeout: Option<Duration>,
    data: &[u8],
    mut send: impl FnMut(&[u8]) -> Result<usize, Errno>,
) -> Result<usize, SysErr> {
    let done = k.task(tid).sent.min(data.len());
    let r = send(&data[done..]);
    let progress = match r {
        Ok(n) if done + n >= data.len() => {
            k.task_mut(tid).sent = 0;
            return Ok(done + n);
        }
        Ok(n) => done + n,
        Err(e) if e == Errno::EAGAIN => done,
        Err(e) => {
            k.task_mut(tid).sent = 0;
            return if done > 0 { Ok(done) } else { Err(e.into()) };
        }
    };
    k.task_mut(tid).sent = progress;
    k.dirty = true;
    match wait_for(k, tid, Some((host_fd, POLLOUT)), timeout) {
        SysErr::Errno(e) => {
            k.task_mut(tid).sent = 0;
            if progress > 0 {
                Ok(progress)
            } else {
                Err(e.into())
            }
        }
        other => Err(other),
    }
}

/// Whether a blocking send on `f` must queue everything (a TCP socket).
pub(crate) fn sends_all(f: &OpenFile) -> Option<(i32, Option<Duration>)> {
    match net::sock_of(f) {
        Ok(Sock::Inet(s)) if s.ty == libc::SOCK_STREAM && !s.is_netlink() && !f.nonblocking() => {
            Some((s.raw(), s.common.sndtimeo.get()))
        }
        _ => None,
    }
}

/// Sends one message. `addr` is the raw destination sockaddr (empty: none).
fn do_send(
    k: &mut Kernel,
    tid: Tid,
    f: &OpenFile,
    data: &[u8],
    addr: &[u8],
    ctl: &[u8],
    flags: i32,
) -> Result<usize, SysErr> {
    let block = !(f.nonblocking() || flags & libc::MSG_DONTWAIT != 0);
    let nosignal = flags & libc::MSG_NOSIGNAL != 0;
    let r = match net::sock_of(f)? {
        Sock::Unix(u) => {
            let ep = u.ep.clone();
            let creds = scm_creds(k, tid);
            ep.owner.set(creds);
            let ctl = parse_control(k, tid, true, ctl)?;
            let target = if addr.is_empty() {
                None
            } else {
                match ep.kind {
                    Kind::Dgram => {
                        let ua = UnixAddr::parse(addr)?.ok_or(Errno::EINVAL)?;
                        Some(resolve_unix(k, tid, &ua, Kind::Dgram)?)
                    }
                    Kind::Stream => {
                        return Err(if ep.is_connected() {
                            Errno::EISCONN
                        } else {
                            Errno::EOPNOTSUPP
                        }
                        .into())
                    }
                    // seqpacket ignores the address, as Linux does.
                    Kind::Seqpacket => None,
                }
            };
            let r = ep.send(target, data, ctl.rights, ctl.creds.unwrap_or(creds), block);
            match r {
                Err(e) if e == Errno::EAGAIN && block => {
                    return Err(wait_for(k, tid, None, u.common.sndtimeo.get()))
                }
                other => other,
            }
        }
        Sock::Inet(s) => {
            if s.is_netlink() {
                net::inet::check_netlink_request(data)?;
                if !addr.is_empty() {
                    s.check_addr(addr, true)?;
                }
                if !ctl.is_empty() {
                    return Err(Errno::EINVAL.into());
                }
            }
            let ctl = parse_control(k, tid, false, ctl)?;
            let a = if addr.is_empty() { None } else { Some(addr) };
            if block && s.ty == libc::SOCK_STREAM && !s.is_netlink() && ctl.host.is_empty() {
                let to = s.common.sndtimeo.get();
                let n = send_all(k, tid, s.raw(), to, data, |d| s.sendmsg(d, a, &[], flags));
                if n.is_ok() {
                    k.dirty = true;
                }
                return match n {
                    Err(SysErr::Errno(e)) if e == Errno::EPIPE => {
                        if !nosignal {
                            sigpipe(k, tid);
                        }
                        Err(e.into())
                    }
                    other => other,
                };
            }
            match s.sendmsg(data, a, &ctl.host, flags) {
                Err(e) if e == Errno::EAGAIN && block => {
                    let to = s.common.sndtimeo.get();
                    return Err(wait_for(k, tid, Some((s.raw(), POLLOUT)), to));
                }
                other => other,
            }
        }
    };
    match r {
        Ok(n) => {
            k.dirty = true;
            Ok(n)
        }
        Err(e) if e == Errno::EPIPE => {
            if !nosignal {
                sigpipe(k, tid);
            }
            Err(e.into())
        }
        Err(e) => Err(e.into()),
    }
}

fn read_iovecs(mem: &Mem, addr: u64, cnt: u64) -> Result<Vec<(u64, usize)>, Errno> {
    if cnt > MAX_IOV {
        return Err(Errno::EMSGSIZE);
    }
    if cnt == 0 {
        return Ok(Vec::new());
    }
    let raw = mem.read_vec(addr, cnt as usize * 16)?;
    let mut v = Vec::with_capacity(cnt as usize);
    for c in raw.chunks_exact(16) {
        let base = u64::from_le_bytes(c[0..8].try_into().map_err(|_| Errno::EINVAL)?);
        let len = u64::from_le_bytes(c[8..16].try_into().map_err(|_| Errno::EINVAL)?);
        if len > isize::MAX as u64 {
            return Err(Errno::EINVAL);
        }
        v.push((base, len as usize));
    }
    Ok(v)
}

fn gather(mem: &Mem, iovs: &[(u64, usize)]) -> Result<Vec<u8>, Errno> {
    let mut buf = Vec::new();
    for &(base, len) in iovs {
        let len = len.min(MAX_IO.saturating_sub(buf.len()));
        if len == 0 {
            continue;
        }
        buf.extend_from_slice(&mem.read_vec(base, len)?);
    }
    Ok(buf)
}

fn scatter(mem: &Mem, iovs: &[(u64, usize)], data: &[u8]) -> Result<(), Errno> {
    let mut done = 0;
    for &(base, len) in iovs {
        if done >= data.len() {
            break;
        }
        let m = len.min(data.len() - done);
        mem.write(base, &data[done..done + m])?;
        done += m;
    }
    Ok(())
}

/// struct msghdr, as the workload laid it out.
struct MsgHdr {
    name: u64,
    namelen: u32,
    iov: u64,
    iovlen: u64,
    control: u64,
    controllen: u64,
}

fn read_msghdr(mem: &Mem, addr: u64) -> Result<MsgHdr, Errno> {
    let b = mem.read_vec(addr, MSGHDR_SIZE as usize)?;
    let u64_at = |o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap_or([0; 8]));
    Ok(MsgHdr {
        name: u64_at(0),
        namelen: u32::from_le_bytes(b[8..12].try_into().unwrap_or([0; 4])),
        iov: u64_at(16),
        iovlen: u64_at(24),
        control: u64_at(32),
        controllen: u64_at(40),
    })
}

fn sendmsg_one(
    k: &mut Kernel,
    tid: Tid,
    f: &OpenFile,
    msg: u64,
    flags: i32,
) -> Result<usize, SysErr> {
    let mem = k.mem_of(tid)?;
    let h = read_msghdr(&mem, msg)?;
    let iovs = read_iovecs(&mem, h.iov, h.iovlen)?;
    let data = gather(&mem, &iovs)?;
    let addr = if h.name != 0 && h.namelen > 0 {
        read_sockaddr(&mem, h.name, h.namelen as u64)?
    } else {
        Vec::new()
    };
    let ctl = if h.control != 0 && h.controllen > 0 {
        if h.controllen as usize > MAX_CONTROL {
            return Err(Errno(libc::ENOBUFS).into());
        }
        mem.read_vec(h.control, h.controllen as usize)?
    } else {
        Vec::new()
    };
    do_send(k, tid, f, &data, &addr, &ctl, flags)
}

pub fn sys_sendto(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let f = get_file(k, tid, a[0])?;
    net::sock_of(&f)?;
    let mem = k.mem_of(tid)?;
    let len = (a[2] as usize).min(MAX_IO);
    let data = if len == 0 {
        Vec::new()
    } else {
        mem.read_vec(a[1], len)?
    };
    let addr = if a[4] != 0 {
        read_sockaddr(&mem, a[4], a[5])?
    } else {
        Vec::new()
    };
    Ok(do_send(k, tid, &f, &data, &addr, &[], a[3] as i32)? as i64)
}

pub fn sys_sendmsg(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let f = get_file(k, tid, a[0])?;
    net::sock_of(&f)?;
    Ok(sendmsg_one(k, tid, &f, a[1], a[2] as i32)? as i64)
}

pub fn sys_sendmmsg(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let f = get_file(k, tid, a[0])?;
    net::sock_of(&f)?;
    let vlen = a[2].min(MAX_IOV);
    let flags = a[3] as i32;
    let mut sent = 0u64;
    for i in 0..vlen {
        // Hostile vectors may sit at the top of the address space: never overflow.
        let m = a[1].checked_add(i * MMSGHDR_SIZE).ok_or(Errno::EFAULT)?;
        match sendmsg_one(k, tid, &f, m, flags) {
            Ok(n) => {
                k.mem_of(tid)?.write_u32(m.wrapping_add(56), n as u32)?;
                sent += 1;
            }
            // The first message reports (or waits); later ones end the batch.
            Err(e) if sent == 0 => return Err(e),
            Err(_) => break,
        }
    }
    Ok(sent as i64)
}

// ---------------------------------------------------------------------------------------------
// Receiving

struct Received {
    data: Vec<u8>,
    /// The syscall's return value (the full datagram length under MSG_TRUNC).
    ret: usize,
    name: Vec<u8>,
    control: Vec<u8>,
    flags: i32,
}

/// Encodes received credentials and files as cmsgs within `room` bytes, installing the files
/// in the caller's fd table. Files that do not fit are closed and MSG_CTRUNC is set, as Linux's
/// scm_detach_fds does.
fn unix_control(
    k: &Kernel,
    tid: Tid,
    creds: Option<net::unix::Ucred>,
    rights: Vec<Rc<OpenFile>>,
    room: usize,
    cloexec: bool,
) -> (Vec<u8>, i32) {
    let mut out = Vec::new();
    let mut flags = 0;
    let put = |out: &mut Vec<u8>, ty: i32, data: &[u8]| -> bool {
        let len = CMSG_HDR + data.len();
        if room.saturating_sub(out.len()) < len {
            return false;
        }
        out.extend_from_slice(&(len as u64).to_le_bytes());
        out.extend_from_slice(&libc::SOL_SOCKET.to_le_bytes());
        out.extend_from_slice(&ty.to_le_bytes());
        out.extend_from_slice(data);
        out.resize(cmsg_align(out.len()).min(room), 0);
        true
    };
    if let Some(c) = creds {
        if !put(&mut out, libc::SCM_CREDENTIALS, &c.to_bytes()) {
            flags |= libc::MSG_CTRUNC;
        }
    }
    if !rights.is_empty() {
        let left = room.saturating_sub(out.len());
        let fdmax = left.saturating_sub(CMSG_HDR) / 4;
        let mut fds = Vec::new();
        {
            let mut table = k.proc_of(tid).fds.borrow_mut();
            for f in rights.iter().take(fdmax) {
                match table.install(f.clone(), cloexec, 0) {
                    Ok(fd) => fds.push(fd),
                    Err(_) => break,
                }
            }
        }
        if fds.len() < rights.len() {
            flags |= libc::MSG_CTRUNC;
        }
        if !fds.is_empty() {
            let data: Vec<u8> = fds.iter().flat_map(|fd| fd.to_le_bytes()).collect();
            put(&mut out, libc::SCM_RIGHTS, &data);
        }
    }
    // `rights` that were not installed are closed here, outside every socket borrow.
    drop(rights);
    (out, flags)
}

fn do_recv(
    k: &mut Kernel,
    tid: Tid,
    f: &OpenFile,
    len: usize,
    flags: i32,
    want_name: bool,
    ctl_room: usize,
) -> Result<Received, SysErr> {
    // The error queue never blocks (Linux returns EAGAIN when it is empty).
    let block = !(f.nonblocking() || flags & (libc::MSG_DONTWAIT | libc::MSG_ERRQUEUE) != 0);
    // A blocked receive is re-run on every wake-up: stage only what can arrive, not the
    // whole (possibly huge) user buffer each time.
    let len = len.min(MAX_IO);
    match net::sock_of(f)? {
        Sock::Unix(u) => {
            let ep = u.ep.clone();
            let stage = if flags & libc::MSG_WAITALL != 0 {
                len
            } else {
                len.min(ep.inq().max(1))
            };
            let mut buf = vec![0u8; stage];
            let r = match ep.recv(&mut buf, flags, block) {
                Ok(r) => r,
                Err(e) if e == Errno::EAGAIN && block => {
                    return Err(wait_for(k, tid, None, u.common.rcvtimeo.get()))
                }
                Err(e) => return Err(e.into()),
            };
            k.dirty = true;
            buf.truncate(r.n);
            let ret = if flags & libc::MSG_TRUNC != 0 && ep.kind != Kind::Stream {
                r.full
            } else {
                r.n
            };
            let name = match (&r.from, want_name) {
                (Some(a), true) => UnixAddr::encode(Some(a)),
                _ => Vec::new(),
            };
            let cloexec = flags & libc::MSG_CMSG_CLOEXEC != 0;
            let (control, cflags) = unix_control(k, tid, r.creds, r.rights, ctl_room, cloexec);
            Ok(Received {
                data: buf,
                ret,
                name,
                control,
                flags: r.flags | cflags,
            })
        }
        Sock::Inet(s) => {
            let mut buf = vec![0u8; len.min(INET_STAGE)];
            match s.recvmsg(&mut buf, want_name, ctl_room.min(MAX_CONTROL), flags) {
                Ok((n, name, control, mflags)) => {
                    buf.truncate(n.min(buf.len()));
                    Ok(Received {
                        data: buf,
                        ret: n,
                        name,
                        control,
                        flags: mflags,
                    })
                }
                Err(e) if e == Errno::EAGAIN && block => {
                    let to = s.common.rcvtimeo.get();
                    Err(wait_for(k, tid, Some((s.raw(), POLLIN)), to))
                }
                Err(e) => Err(e.into()),
            }
        }
    }
}

pub fn sys_recvfrom(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let f = get_file(k, tid, a[0])?;
    net::sock_of(&f)?;
    let want_name = a[4] != 0;
    let r = do_recv(k, tid, &f, a[2] as usize, a[3] as i32, want_name, 0)?;
    let mem = k.mem_of(tid)?;
    mem.write(a[1], &r.data)?;
    if want_name {
        if r.name.is_empty() {
            // No sender name (stream sockets, unnamed senders): length 0.
            mem.write_u32(a[5], 0)?;
        } else {
            write_sockaddr(&mem, a[4], a[5], &r.name)?;
        }
    }
    Ok(r.ret as i64)
}

fn recvmsg_one(
    k: &mut Kernel,
    tid: Tid,
    f: &OpenFile,
    msg: u64,
    flags: i32,
) -> Result<usize, SysErr> {
    let mem = k.mem_of(tid)?;
    let h = read_msghdr(&mem, msg)?;
    let iovs = read_iovecs(&mem, h.iov, h.iovlen)?;
    let total: usize = iovs
        .iter()
        .fold(0usize, |s, v| s.saturating_add(v.1))
        .min(MAX_IO);
    let room = if h.control != 0 {
        (h.controllen as usize).min(MAX_CONTROL)
    } else {
        0
    };
    let want_name = h.name != 0;
    let r = do_recv(k, tid, f, total, flags, want_name, room)?;
    scatter(&mem, &iovs, &r.data)?;
    if want_name {
        let ulen = (h.namelen as i32).max(0) as usize;
        let n = r.name.len().min(ulen);
        mem.write(h.name, &r.name[..n])?;
        mem.write_u32(msg.wrapping_add(8), r.name.len() as u32)?;
    }
    if room > 0 && !r.control.is_empty() {
        mem.write(h.control, &r.control)?;
    }
    mem.write_u64(msg.wrapping_add(40), r.control.len() as u64)?;
    mem.write_i32(msg.wrapping_add(48), r.flags)?;
    Ok(r.ret)
}

pub fn sys_recvmsg(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let f = get_file(k, tid, a[0])?;
    net::sock_of(&f)?;
    Ok(recvmsg_one(k, tid, &f, a[1], a[2] as i32)? as i64)
}

/// recvmmsg: the first message is waited for; later ones are taken only if already there
/// (a re-run syscall cannot keep half a batch), which is what MSG_WAITFORONE asks anyway.
pub fn sys_recvmmsg(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let f = get_file(k, tid, a[0])?;
    net::sock_of(&f)?;
    let vlen = a[2].min(MAX_IOV);
    let flags = a[3] as i32 & !0x10000; // MSG_WAITFORONE is implied
    let mut got = 0u64;
    for i in 0..vlen {
        // Hostile vectors may sit at the top of the address space: never overflow.
        let m = a[1].checked_add(i * MMSGHDR_SIZE).ok_or(Errno::EFAULT)?;
        let fl = if got == 0 {
            flags
        } else {
            flags | libc::MSG_DONTWAIT
        };
        match recvmsg_one(k, tid, &f, m, fl) {
            Ok(n) => {
                k.mem_of(tid)?.write_u32(m.wrapping_add(56), n as u32)?;
                got += 1;
            }
            Err(e) if got == 0 => return Err(e),
            Err(_) => break,
        }
    }
    Ok(got as i64)
}

// ---------------------------------------------------------------------------------------------
// Socket options

fn unix_setsockopt(u: &UnixSocket, name: i32, v: &[u8]) -> Result<(), Errno> {
    let ep = &u.ep;
    match name {
        libc::SO_PASSCRED => ep.st.borrow_mut().passcred = net::opt_int(v)? != 0,
        libc::SO_SNDBUF | libc::SO_RCVBUF => {
            // Linux doubles the request (bookkeeping overhead) within [min, 2 * wmem_max].
            let req = (net::opt_int(v)?.max(0) as usize).min(net::unix::BUF_MAX);
            let mut s = ep.st.borrow_mut();
            if name == libc::SO_SNDBUF {
                s.sndbuf = (req * 2).max(4608);
            } else {
                s.rcvbuf = (req * 2).max(2304);
            }
        }
        libc::SO_REUSEADDR
        | libc::SO_REUSEPORT
        | libc::SO_KEEPALIVE
        | libc::SO_BROADCAST
        | libc::SO_OOBINLINE
        | libc::SO_DONTROUTE
        | libc::SO_PRIORITY
        | libc::SO_RCVLOWAT
        | libc::SO_SNDLOWAT
        | libc::SO_TIMESTAMP
        | libc::SO_TIMESTAMPNS => {
            let x = net::opt_int(v)?;
            u.common.stored.borrow_mut().insert(name, net::int_bytes(x));
        }
        libc::SO_LINGER => {
            if v.len() < 8 {
                return Err(Errno::EINVAL);
            }
            u.common.stored.borrow_mut().insert(name, v[..8].to_vec());
        }
        _ => return Err(Errno::ENOPROTOOPT),
    }
    Ok(())
}

fn unix_getsockopt(u: &UnixSocket, name: i32) -> Result<Vec<u8>, Errno> {
    let ep = &u.ep;
    Ok(match name {
        libc::SO_TYPE => net::int_bytes(ep.kind.sock_type()),
        libc::SO_DOMAIN => net::int_bytes(libc::AF_UNIX),
        libc::SO_PROTOCOL => net::int_bytes(0),
        libc::SO_ERROR => net::int_bytes(ep.take_error()),
        libc::SO_ACCEPTCONN => net::int_bytes(ep.is_listening() as i32),
        libc::SO_PASSCRED => net::int_bytes(ep.st.borrow().passcred as i32),
        libc::SO_SNDBUF => net::int_bytes(ep.st.borrow().sndbuf as i32),
        libc::SO_RCVBUF => net::int_bytes(ep.st.borrow().rcvbuf as i32),
        libc::SO_PEERCRED => ep
            .peercred()
            .unwrap_or(net::unix::Ucred {
                pid: 0,
                uid: 65534,
                gid: 65534,
            })
            .to_bytes(),
        libc::SO_REUSEADDR
        | libc::SO_REUSEPORT
        | libc::SO_KEEPALIVE
        | libc::SO_BROADCAST
        | libc::SO_OOBINLINE
        | libc::SO_DONTROUTE
        | libc::SO_PRIORITY
        | libc::SO_SNDLOWAT
        | libc::SO_TIMESTAMP
        | libc::SO_TIMESTAMPNS => u
            .common
            .stored
            .borrow()
            .get(&name)
            .cloned()
            .unwrap_or_else(|| net::int_bytes(0)),
        libc::SO_RCVLOWAT => u
            .common
            .stored
            .borrow()
            .get(&name)
            .cloned()
            .unwrap_or_else(|| net::int_bytes(1)),
        libc::SO_LINGER => u
            .common
            .stored
            .borrow()
            .get(&name)
            .cloned()
            .unwrap_or_else(|| vec![0; 8]),
        _ => return Err(Errno::ENOPROTOOPT),
    })
}

fn is_timeo(level: i32, name: i32) -> Option<bool> {
    if level != libc::SOL_SOCKET {
        return None;
    }
    match name {
        net::SO_RCVTIMEO_OLD | net::SO_RCVTIMEO_NEW => Some(true),
        net::SO_SNDTIMEO_OLD | net::SO_SNDTIMEO_NEW => Some(false),
        _ => None,
    }
}

pub fn sys_setsockopt(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let f = get_file(k, tid, a[0])?;
    let (level, name) = (a[1] as i32, a[2] as i32);
    let len = a[4] as u32 as i32;
    if len < 0 {
        return Err(Errno::EINVAL.into());
    }
    let sock = net::sock_of(&f)?;
    let len = (len as usize).min(net::MAX_OPTLEN);
    let v = if len == 0 {
        Vec::new()
    } else {
        k.mem_of(tid)?.read_vec(a[3], len)?
    };
    if let Some(rcv) = is_timeo(level, name) {
        let d = net::parse_timeval(&v)?;
        let c = sock.common();
        if rcv {
            c.rcvtimeo.set(d);
        } else {
            c.sndtimeo.set(d);
        }
        return Ok(0);
    }
    match sock {
        Sock::Unix(u) => {
            if level != libc::SOL_SOCKET {
                return Err(Errno::EOPNOTSUPP.into());
            }
            unix_setsockopt(u, name, &v)?;
        }
        Sock::Inet(s) => {
            if !InetSocket::option_allowed(level, name, true) {
                tracing::debug!(level, name, "setsockopt refused on a host socket");
                return Err(Errno::ENOPROTOOPT.into());
            }
            s.setsockopt(level, name, &v)?;
        }
    }
    Ok(0)
}

pub fn sys_getsockopt(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let f = get_file(k, tid, a[0])?;
    let (level, name) = (a[1] as i32, a[2] as i32);
    let mem = k.mem_of(tid)?;
    let sock = net::sock_of(&f)?;
    let len = mem.read_u32(a[4])? as i32;
    if len < 0 {
        return Err(Errno::EINVAL.into());
    }
    let len = len as usize;
    let v = if let Some(rcv) = is_timeo(level, name) {
        let c = sock.common();
        net::encode_timeval(if rcv {
            c.rcvtimeo.get()
        } else {
            c.sndtimeo.get()
        })
    } else {
        match sock {
            Sock::Unix(u) => {
                if level != libc::SOL_SOCKET {
                    return Err(Errno::EOPNOTSUPP.into());
                }
                unix_getsockopt(u, name)?
            }
            Sock::Inet(s) => {
                if !InetSocket::option_allowed(level, name, false) {
                    return Err(Errno::ENOPROTOOPT.into());
                }
                s.getsockopt(level, name, len.max(4))?
            }
        }
    };
    let n = v.len().min(len);
    mem.write(a[3], &v[..n])?;
    mem.write_u32(a[4], n as u32)?;
    Ok(0)
}
