//! AF_INET / AF_INET6 sockets backed by host sockets the sentry owns.
//!
//! The sandbox process already lives in the container's network namespace, so a host socket
//! it creates sees exactly the network the container should see. The workload never holds the
//! host fd: every operation is made by the sentry on a nonblocking, close-on-exec host socket,
//! and a workload that would block is parked by the event loop on the host fd (see
//! `syscalls/file.rs: io_outcome` and `syscalls/net.rs`).
//!
//! Only a reviewed list of socket options and ioctls reaches the host; nothing that names a
//! host object (SO_BINDTODEVICE, filters, marks) or changes the namespace (SIOCS*) does.
//!
//! The same wrapper serves AF_NETLINK/NETLINK_ROUTE sockets for interface and address listings
//! (getifaddrs, `ip addr`): only `RTM_GET*` requests addressed to the kernel are forwarded.

use super::SockCommon;
use crate::errno::Errno;
use crate::vfs::file::{FileOps, OpenFile};
use std::any::Any;
use std::cell::Cell;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// Largest sockaddr we pass (sizeof(struct sockaddr_storage)).
pub const SOCKADDR_MAX: usize = 128;

#[derive(Debug)]
pub struct InetSocket {
    pub fd: OwnedFd,
    pub domain: i32,
    pub ty: i32,
    pub proto: i32,
    /// A blocking connect(2) got EINPROGRESS and waits for the host to finish it.
    pub connecting: Cell<bool>,
    pub common: SockCommon,
}

fn cvt(r: isize) -> Result<usize, Errno> {
    if r < 0 {
        Err(Errno::last())
    } else {
        Ok(r as usize)
    }
}

/// Which (type, protocol) pairs we create. Raw sockets need CAP_NET_RAW on Linux and are
/// refused; SCTP and friends are not offered.
pub fn check_type(ty: i32, proto: i32) -> Result<(), Errno> {
    match ty {
        libc::SOCK_STREAM if proto == 0 || proto == libc::IPPROTO_TCP => Ok(()),
        libc::SOCK_DGRAM
            if proto == 0
                || proto == libc::IPPROTO_UDP
                || proto == libc::IPPROTO_ICMP
                || proto == libc::IPPROTO_ICMPV6 =>
        {
            Ok(())
        }
        libc::SOCK_STREAM | libc::SOCK_DGRAM => Err(Errno::EPROTONOSUPPORT),
        // SOCK_PACKET (10) is the old packet-socket type.
        libc::SOCK_RAW | 10 => Err(Errno::EPERM),
        libc::SOCK_SEQPACKET | libc::SOCK_RDM => Err(Errno(libc::ESOCKTNOSUPPORT)),
        _ => Err(Errno::EINVAL),
    }
}

impl Drop for InetSocket {
    fn drop(&mut self) {
        // The OwnedFd closes right after this; its number may be reused.
        crate::kernel::note_host_fd_closed();
    }
}

/// Route netlink: datagram or raw type, NETLINK_ROUTE only.
pub fn check_netlink_type(ty: i32, proto: i32) -> Result<(), Errno> {
    if ty != libc::SOCK_RAW && ty != libc::SOCK_DGRAM {
        return Err(Errno(libc::ESOCKTNOSUPPORT));
    }
    if proto != libc::NETLINK_ROUTE {
        return Err(Errno::EPROTONOSUPPORT);
    }
    Ok(())
}

/// Netlink message types the workload may send: the rtnetlink "get" requests.
const RTM_GETS: &[u16] = &[
    18, // RTM_GETLINK
    22, // RTM_GETADDR
    26, // RTM_GETROUTE
    30, // RTM_GETNEIGH
    34, // RTM_GETRULE
    42, // RTM_GETTCLASS
    74, // RTM_GETADDRLABEL
    82, // RTM_GETNETCONF
];

/// Checks a netlink request buffer: well-formed headers, read-only message types. Anything
/// else is refused with EPERM (what an unprivileged process gets from the kernel).
pub fn check_netlink_request(data: &[u8]) -> Result<(), Errno> {
    let mut off = 0;
    while off + 16 <= data.len() {
        let len =
            u32::from_le_bytes([data[off], data[off + 1], data[off + 2], data[off + 3]]) as usize;
        let ty = u16::from_le_bytes([data[off + 4], data[off + 5]]);
        if len < 16 || len > data.len() - off {
            return Err(Errno::EINVAL);
        }
        if !RTM_GETS.contains(&ty) {
            return Err(Errno::EPERM);
        }
        off += (len + 3) & !3;
    }
    Ok(())
}

impl InetSocket {
    /// A new host socket (nonblocking, close-on-exec: the sentry never execs, but be tidy).
    pub fn new(domain: i32, ty: i32, proto: i32, uid: u32, gid: u32) -> Result<InetSocket, Errno> {
        if domain == libc::AF_NETLINK {
            check_netlink_type(ty, proto)?;
        } else {
            check_type(ty, proto)?;
        }
        // SAFETY: plain socket(2); the result is checked and owned below.
        let fd =
            unsafe { libc::socket(domain, ty | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC, proto) };
        if fd < 0 {
            return Err(Errno::last());
        }
        // SAFETY: fd is a fresh descriptor nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(InetSocket::from_fd(fd, domain, ty, proto, uid, gid))
    }

    pub fn from_fd(fd: OwnedFd, domain: i32, ty: i32, proto: i32, uid: u32, gid: u32) -> Self {
        InetSocket {
            fd,
            domain,
            ty,
            proto,
            connecting: Cell::new(false),
            common: SockCommon::new(uid, gid),
        }
    }

    pub fn raw(&self) -> i32 {
        self.fd.as_raw_fd()
    }

    pub fn is_stream(&self) -> bool {
        self.ty == libc::SOCK_STREAM
    }

    pub fn is_netlink(&self) -> bool {
        self.domain == libc::AF_NETLINK
    }

    /// Checks a workload-supplied address before the host sees it: the right family for this
    /// socket (AF_UNSPEC is allowed where Linux allows it: connect to dissolve an association,
    /// bind of AF_INET sockets to INADDR_ANY), and the minimum length for that family.
    pub fn check_addr(&self, addr: &[u8], for_connect: bool) -> Result<(), Errno> {
        if addr.len() < 2 || addr.len() > SOCKADDR_MAX {
            return Err(Errno::EINVAL);
        }
        let fam = u16::from_le_bytes([addr[0], addr[1]]) as i32;
        if self.is_netlink() {
            // struct sockaddr_nl: family, pad, pid, groups. Requests go to the kernel only.
            if fam != libc::AF_NETLINK || addr.len() < 12 {
                return Err(Errno::EINVAL);
            }
            if for_connect && addr[4..12].iter().any(|&b| b != 0) {
                return Err(Errno::EPERM);
            }
            return Ok(());
        }
        if fam == libc::AF_UNSPEC {
            return if for_connect || self.domain == libc::AF_INET {
                Ok(())
            } else {
                Err(Errno::EAFNOSUPPORT)
            };
        }
        // AF_INET6 sockets take v4-mapped addresses only in AF_INET6 form; AF_INET sockets
        // take AF_INET only.
        if fam != self.domain {
            return Err(if self.domain == libc::AF_INET {
                Errno::EAFNOSUPPORT
            } else {
                Errno::EINVAL
            });
        }
        let min = if fam == libc::AF_INET { 16 } else { 24 };
        if addr.len() < min {
            return Err(Errno::EINVAL);
        }
        Ok(())
    }

    pub fn bind(&self, addr: &[u8]) -> Result<(), Errno> {
        // SAFETY: addr is a valid buffer of addr.len() bytes.
        let r = unsafe {
            libc::bind(
                self.raw(),
                addr.as_ptr() as *const libc::sockaddr,
                addr.len() as libc::socklen_t,
            )
        };
        cvt(r as isize).map(|_| ())
    }

    pub fn listen(&self, backlog: i32) -> Result<(), Errno> {
        // SAFETY: plain listen(2) on our socket.
        let r = unsafe { libc::listen(self.raw(), backlog.clamp(0, 4096)) };
        cvt(r as isize).map(|_| ())
    }

    /// accept4 on the host socket: the new connection and the peer's address.
    pub fn accept(&self, uid: u32, gid: u32) -> Result<(InetSocket, Vec<u8>), Errno> {
        let mut ss = [0u8; SOCKADDR_MAX];
        let mut len = SOCKADDR_MAX as libc::socklen_t;
        // SAFETY: ss/len describe a valid writable buffer.
        let fd = unsafe {
            libc::accept4(
                self.raw(),
                ss.as_mut_ptr() as *mut libc::sockaddr,
                &mut len,
                libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(Errno::last());
        }
        // SAFETY: fresh fd from accept4.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let len = (len as usize).min(SOCKADDR_MAX);
        Ok((
            InetSocket::from_fd(fd, self.domain, self.ty, self.proto, uid, gid),
            ss[..len].to_vec(),
        ))
    }

    /// Host connect(2); EINPROGRESS comes back as an error for the caller to handle.
    pub fn connect(&self, addr: &[u8]) -> Result<(), Errno> {
        // SAFETY: addr is a valid buffer of addr.len() bytes.
        let r = unsafe {
            libc::connect(
                self.raw(),
                addr.as_ptr() as *const libc::sockaddr,
                addr.len() as libc::socklen_t,
            )
        };
        cvt(r as isize).map(|_| ())
    }

    /// Host sendmsg with the workload's data. Flags are reduced to harmless ones and the
    /// host call never blocks nor raises SIGPIPE in the sentry.
    pub fn sendmsg(
        &self,
        data: &[u8],
        addr: Option<&[u8]>,
        control: &[u8],
        flags: i32,
    ) -> Result<usize, Errno> {
        let allowed = libc::MSG_OOB
            | libc::MSG_DONTROUTE
            | libc::MSG_EOR
            | libc::MSG_MORE
            | libc::MSG_CONFIRM;
        let hflags = (flags & allowed) | libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL;
        let mut iov = libc::iovec {
            iov_base: data.as_ptr() as *mut libc::c_void,
            iov_len: data.len(),
        };
        // SAFETY: msghdr is plain data.
        let mut mh: libc::msghdr = unsafe { std::mem::zeroed() };
        if let Some(a) = addr {
            mh.msg_name = a.as_ptr() as *mut libc::c_void;
            mh.msg_namelen = a.len() as libc::socklen_t;
        }
        mh.msg_iov = &mut iov;
        mh.msg_iovlen = 1;
        if !control.is_empty() {
            mh.msg_control = control.as_ptr() as *mut libc::c_void;
            mh.msg_controllen = control.len();
        }
        // SAFETY: every pointer in mh refers to a live buffer of the stated length; the host
        // only reads them.
        let r = unsafe { libc::sendmsg(self.raw(), &mh, hflags) };
        cvt(r)
    }

    /// Host recvmsg into sentry buffers. Returns (bytes, name, control, msg_flags).
    pub fn recvmsg(
        &self,
        buf: &mut [u8],
        want_name: bool,
        control_len: usize,
        flags: i32,
    ) -> Result<(usize, Vec<u8>, Vec<u8>, i32), Errno> {
        let allowed = libc::MSG_OOB | libc::MSG_PEEK | libc::MSG_TRUNC | libc::MSG_ERRQUEUE;
        let hflags = (flags & allowed) | libc::MSG_DONTWAIT;
        let mut name = [0u8; SOCKADDR_MAX];
        let mut control = vec![0u8; control_len];
        let mut iov = libc::iovec {
            iov_base: buf.as_mut_ptr() as *mut libc::c_void,
            iov_len: buf.len(),
        };
        // SAFETY: msghdr is plain data.
        let mut mh: libc::msghdr = unsafe { std::mem::zeroed() };
        if want_name {
            mh.msg_name = name.as_mut_ptr() as *mut libc::c_void;
            mh.msg_namelen = SOCKADDR_MAX as libc::socklen_t;
        }
        mh.msg_iov = &mut iov;
        mh.msg_iovlen = 1;
        if control_len > 0 {
            mh.msg_control = control.as_mut_ptr() as *mut libc::c_void;
            mh.msg_controllen = control_len;
        }
        // SAFETY: every pointer in mh refers to a live, writable buffer of the stated length.
        let r = unsafe { libc::recvmsg(self.raw(), &mut mh, hflags) };
        let n = cvt(r)?;
        let nlen = if want_name {
            (mh.msg_namelen as usize).min(SOCKADDR_MAX)
        } else {
            0
        };
        control.truncate(mh.msg_controllen.min(control_len));
        Ok((n, name[..nlen].to_vec(), control, mh.msg_flags))
    }

    pub fn shutdown(&self, how: i32) -> Result<(), Errno> {
        // SAFETY: plain shutdown(2) on our socket.
        let r = unsafe { libc::shutdown(self.raw(), how) };
        cvt(r as isize).map(|_| ())
    }

    /// getsockname (peer = false) or getpeername (peer = true).
    pub fn name(&self, peer: bool) -> Result<Vec<u8>, Errno> {
        let mut ss = [0u8; SOCKADDR_MAX];
        let mut len = SOCKADDR_MAX as libc::socklen_t;
        let p = ss.as_mut_ptr() as *mut libc::sockaddr;
        // SAFETY: ss/len describe a valid writable buffer.
        let r = unsafe {
            if peer {
                libc::getpeername(self.raw(), p, &mut len)
            } else {
                libc::getsockname(self.raw(), p, &mut len)
            }
        };
        cvt(r as isize)?;
        Ok(ss[..(len as usize).min(SOCKADDR_MAX)].to_vec())
    }

    /// Whether the host accepts this option from the workload (both directions unless noted).
    pub fn option_allowed(level: i32, name: i32, set: bool) -> bool {
        match level {
            libc::SOL_SOCKET => match name {
                libc::SO_REUSEADDR
                | libc::SO_DONTROUTE
                | libc::SO_BROADCAST
                | libc::SO_SNDBUF
                | libc::SO_RCVBUF
                | libc::SO_KEEPALIVE
                | libc::SO_OOBINLINE
                | libc::SO_NO_CHECK
                | libc::SO_PRIORITY
                | libc::SO_LINGER
                | libc::SO_REUSEPORT
                | libc::SO_RCVLOWAT
                | libc::SO_SNDLOWAT
                | libc::SO_TIMESTAMP
                | libc::SO_TIMESTAMPNS
                | libc::SO_RXQ_OVFL
                | libc::SO_BUSY_POLL
                | libc::SO_PASSCRED => true,
                libc::SO_TYPE
                | libc::SO_ERROR
                | libc::SO_ACCEPTCONN
                | libc::SO_PROTOCOL
                | libc::SO_DOMAIN
                | libc::SO_PEERCRED
                | libc::SO_INCOMING_CPU
                | libc::SO_COOKIE => !set,
                _ => false,
            },
            libc::IPPROTO_TCP => {
                matches!(
                    name,
                    libc::TCP_NODELAY
                        | libc::TCP_MAXSEG
                        | libc::TCP_CORK
                        | libc::TCP_KEEPIDLE
                        | libc::TCP_KEEPINTVL
                        | libc::TCP_KEEPCNT
                        | libc::TCP_SYNCNT
                        | libc::TCP_LINGER2
                        | libc::TCP_DEFER_ACCEPT
                        | libc::TCP_WINDOW_CLAMP
                        | libc::TCP_QUICKACK
                        | libc::TCP_CONGESTION
                        | libc::TCP_USER_TIMEOUT
                        | libc::TCP_NOTSENT_LOWAT
                        | libc::TCP_FASTOPEN
                        | libc::TCP_FASTOPEN_CONNECT
                ) || (!set && name == libc::TCP_INFO)
            }
            libc::IPPROTO_IP => {
                matches!(
                    name,
                    libc::IP_TOS
                        | libc::IP_TTL
                        | libc::IP_PKTINFO
                        | libc::IP_RECVTTL
                        | libc::IP_RECVTOS
                        | libc::IP_MTU_DISCOVER
                        | libc::IP_RECVERR
                        | libc::IP_FREEBIND
                        | libc::IP_BIND_ADDRESS_NO_PORT
                        | libc::IP_RECVORIGDSTADDR
                        | libc::IP_MULTICAST_IF
                        | libc::IP_MULTICAST_TTL
                        | libc::IP_MULTICAST_LOOP
                        | libc::IP_ADD_MEMBERSHIP
                        | libc::IP_DROP_MEMBERSHIP
                        | libc::IP_ADD_SOURCE_MEMBERSHIP
                        | libc::IP_DROP_SOURCE_MEMBERSHIP
                        | libc::IP_MULTICAST_ALL
                ) || (!set && name == libc::IP_MTU)
            }
            libc::IPPROTO_IPV6 => {
                matches!(
                    name,
                    libc::IPV6_V6ONLY
                        | libc::IPV6_UNICAST_HOPS
                        | libc::IPV6_MULTICAST_IF
                        | libc::IPV6_MULTICAST_HOPS
                        | libc::IPV6_MULTICAST_LOOP
                        | libc::IPV6_ADD_MEMBERSHIP
                        | libc::IPV6_DROP_MEMBERSHIP
                        | libc::IPV6_RECVPKTINFO
                        | libc::IPV6_RECVHOPLIMIT
                        | libc::IPV6_RECVTCLASS
                        | libc::IPV6_TCLASS
                        | libc::IPV6_MTU_DISCOVER
                        | libc::IPV6_RECVERR
                ) || (!set && name == libc::IPV6_MTU)
            }
            libc::IPPROTO_UDP => matches!(name, libc::UDP_CORK | libc::UDP_SEGMENT | libc::UDP_GRO),
            // SOL_NETLINK: group membership (change notifications), pktinfo, acks, strict checks.
            libc::SOL_NETLINK => {
                matches!(name, 1 | 2 | 3 | 4 | 5 | 10 | 11 | 12)
                    || (!set && name == 9/* NETLINK_LIST_MEMBERSHIPS */)
            }
            _ => false,
        }
    }

    pub fn setsockopt(&self, level: i32, name: i32, val: &[u8]) -> Result<(), Errno> {
        // SAFETY: val is a valid buffer of val.len() bytes, only read by the host.
        let r = unsafe {
            libc::setsockopt(
                self.raw(),
                level,
                name,
                val.as_ptr() as *const libc::c_void,
                val.len() as libc::socklen_t,
            )
        };
        cvt(r as isize).map(|_| ())
    }

    pub fn getsockopt(&self, level: i32, name: i32, len: usize) -> Result<Vec<u8>, Errno> {
        let mut v = vec![0u8; len.min(super::MAX_OPTLEN)];
        let mut l = v.len() as libc::socklen_t;
        // SAFETY: v/l describe a valid writable buffer.
        let r = unsafe {
            libc::getsockopt(
                self.raw(),
                level,
                name,
                v.as_mut_ptr() as *mut libc::c_void,
                &mut l,
            )
        };
        cvt(r as isize)?;
        v.truncate((l as usize).min(v.len()));
        Ok(v)
    }

    /// SO_ERROR of the host socket (clears it).
    pub fn so_error(&self) -> Result<i32, Errno> {
        let v = self.getsockopt(libc::SOL_SOCKET, libc::SO_ERROR, 4)?;
        super::opt_int(&v)
    }

    /// Host readiness right now (zero-timeout poll).
    pub fn ready(&self) -> u32 {
        let mut p = libc::pollfd {
            fd: self.raw(),
            events: libc::POLLIN | libc::POLLOUT | libc::POLLPRI | libc::POLLRDHUP,
            revents: 0,
        };
        // SAFETY: one valid pollfd, zero timeout.
        let n = unsafe { libc::poll(&mut p, 1, 0) };
        if n <= 0 {
            0
        } else {
            p.revents as u16 as u32
        }
    }

    /// An ioctl that fills an int (FIONREAD, SIOCOUTQ, SIOCATMARK).
    fn ioctl_int(&self, req: u64) -> Result<i32, Errno> {
        let mut v: libc::c_int = 0;
        // SAFETY: the request writes one int into v.
        let r = unsafe { libc::ioctl(self.raw(), req as _, &mut v) };
        cvt(r as isize)?;
        Ok(v)
    }
}

/// Interface queries (struct ifreq in, struct ifreq out, no pointers inside), answered by the
/// host for the sandbox's network namespace. Only "get" requests.
const IFREQ_GETS: &[u64] = &[
    0x8910, // SIOCGIFNAME
    0x8913, // SIOCGIFFLAGS
    0x8915, // SIOCGIFADDR
    0x8917, // SIOCGIFDSTADDR
    0x8919, // SIOCGIFBRDADDR
    0x891b, // SIOCGIFNETMASK
    0x891d, // SIOCGIFMETRIC
    0x8921, // SIOCGIFMTU
    0x8927, // SIOCGIFHWADDR
    0x8933, // SIOCGIFINDEX
    0x8942, // SIOCGIFTXQLEN
];
const SIOCGIFCONF: u64 = 0x8912;
const SIOCATMARK: u64 = 0x8905;
const IFREQ_SIZE: usize = 40;

/// Whether `req` is one of the interface queries any socket answers (Linux serves them from
/// the socket's network namespace whatever its family).
pub fn is_netdev_ioctl(req: u64) -> bool {
    (0x8910..=0x89ff).contains(&req)
}

/// Runs an interface query on host socket `fd` with the workload's struct ifreq / ifconf.
pub fn netdev_ioctl(fd: i32, req: u64, arg: u64, mem: &crate::mm::Mem) -> Result<i64, Errno> {
    match req {
        r if IFREQ_GETS.contains(&r) => {
            let mut ifr = [0u8; IFREQ_SIZE];
            mem.read(arg, &mut ifr)?;
            // SAFETY: ifr is a full struct ifreq; these requests read and write only it.
            let rc = unsafe { libc::ioctl(fd, req as _, ifr.as_mut_ptr()) };
            cvt(rc as isize)?;
            mem.write(arg, &ifr)?;
            Ok(0)
        }
        SIOCGIFCONF => {
            // struct ifconf { int ifc_len; (pad) char *ifc_buf; }
            let len = mem.read_u32(arg)? as i32;
            let ubuf = mem.read_u64(arg + 8)?;
            if len < 0 {
                return Err(Errno::EINVAL);
            }
            let len = (len as usize).min(64 * 1024);
            let mut buf = vec![0u8; len];
            #[repr(C)]
            struct IfConf {
                len: libc::c_int,
                buf: *mut u8,
            }
            let mut ic = IfConf {
                len: len as libc::c_int,
                buf: if ubuf == 0 {
                    std::ptr::null_mut()
                } else {
                    buf.as_mut_ptr()
                },
            };
            // SAFETY: ic points at our own buffer of ic.len bytes (or NULL to ask the size).
            let rc = unsafe { libc::ioctl(fd, SIOCGIFCONF as _, &mut ic) };
            cvt(rc as isize)?;
            let got = (ic.len.max(0) as usize).min(if ubuf == 0 { usize::MAX } else { len });
            if ubuf != 0 {
                mem.write(ubuf, &buf[..got])?;
            }
            mem.write_i32(arg, got.min(i32::MAX as usize) as i32)?;
            Ok(0)
        }
        // Interface changes (SIOCSIF*, SIOCADDRT, ...) need CAP_NET_ADMIN, which the sandbox
        // never has; other interface queries are not offered.
        _ => Err(Errno::EPERM),
    }
}

/// Interface queries for sockets without a host fd (AF_UNIX): a short-lived host socket in the
/// sandbox's network namespace answers them.
pub fn netdev_ioctl_any(req: u64, arg: u64, mem: &crate::mm::Mem) -> Result<i64, Errno> {
    let s = InetSocket::new(libc::AF_INET, libc::SOCK_DGRAM, 0, 0, 0)?;
    netdev_ioctl(s.raw(), req, arg, mem)
}

impl FileOps for InetSocket {
    fn read(&self, _f: &OpenFile, buf: &mut [u8], _off: Option<u64>) -> Result<usize, Errno> {
        // SAFETY: buf is valid for its length; the host socket is nonblocking.
        let r = unsafe {
            libc::recv(
                self.raw(),
                buf.as_mut_ptr() as *mut libc::c_void,
                buf.len(),
                libc::MSG_DONTWAIT,
            )
        };
        cvt(r)
    }

    fn write(&self, _f: &OpenFile, buf: &[u8], _off: Option<u64>) -> Result<usize, Errno> {
        if self.is_netlink() {
            check_netlink_request(buf)?;
        }
        // SAFETY: buf is valid for its length. MSG_NOSIGNAL: EPIPE becomes the workload's
        // SIGPIPE in io_outcome, never the sentry's.
        let r = unsafe {
            libc::send(
                self.raw(),
                buf.as_ptr() as *const libc::c_void,
                buf.len(),
                libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
            )
        };
        cvt(r)
    }

    fn poll(&self) -> u32 {
        self.ready()
    }

    fn host_fd(&self) -> Option<i32> {
        Some(self.raw())
    }

    fn ioctl(&self, _f: &OpenFile, req: u64, arg: u64, mem: &crate::mm::Mem) -> Result<i64, Errno> {
        match req {
            libc::FIONREAD | libc::TIOCOUTQ | SIOCATMARK => {
                let v = self.ioctl_int(req)?;
                mem.write_i32(arg, v)?;
                Ok(0)
            }
            r if is_netdev_ioctl(r) => netdev_ioctl(self.raw(), req, arg, mem),
            _ => Err(Errno::ENOTTY),
        }
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(port: u16) -> Vec<u8> {
        let mut a = (libc::AF_INET as u16).to_le_bytes().to_vec();
        a.extend_from_slice(&port.to_be_bytes());
        a.extend_from_slice(&[127, 0, 0, 1]);
        a.resize(16, 0);
        a
    }

    fn port_of(a: &[u8]) -> u16 {
        u16::from_be_bytes([a[2], a[3]])
    }

    fn wait(s: &InetSocket, ev: u32) {
        for _ in 0..1000 {
            if s.ready() & ev != 0 {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        panic!("socket never became ready");
    }

    #[test]
    fn tcp_loopback_round_trip() {
        let l = InetSocket::new(libc::AF_INET, libc::SOCK_STREAM, 0, 0, 0).unwrap();
        l.setsockopt(libc::SOL_SOCKET, libc::SO_REUSEADDR, &1i32.to_le_bytes())
            .unwrap();
        l.bind(&v4(0)).unwrap();
        l.listen(4).unwrap();
        let port = port_of(&l.name(false).unwrap());
        assert!(matches!(l.accept(0, 0), Err(e) if e == Errno::EAGAIN));
        let c = InetSocket::new(libc::AF_INET, libc::SOCK_STREAM, 0, 0, 0).unwrap();
        match c.connect(&v4(port)) {
            Ok(()) => {}
            Err(e) => assert_eq!(e, Errno::EINPROGRESS),
        }
        wait(&c, libc::POLLOUT as u32);
        assert_eq!(c.so_error().unwrap(), 0);
        wait(&l, libc::POLLIN as u32);
        let (s, peer) = l.accept(0, 0).unwrap();
        assert_eq!(port_of(&peer), port_of(&c.name(false).unwrap()));
        assert_eq!(c.sendmsg(b"ping", None, &[], 0).unwrap(), 4);
        wait(&s, libc::POLLIN as u32);
        let mut buf = [0u8; 16];
        let (n, _, _, _) = s.recvmsg(&mut buf, false, 0, 0).unwrap();
        assert_eq!(&buf[..n], b"ping");
        assert!(matches!(s.recvmsg(&mut buf, false, 0, 0), Err(e) if e == Errno::EAGAIN));
        c.shutdown(libc::SHUT_WR).unwrap();
        wait(&s, libc::POLLIN as u32);
        assert_eq!(s.recvmsg(&mut buf, false, 0, 0).unwrap().0, 0);
    }

    #[test]
    fn udp_loopback_with_names() {
        let a = InetSocket::new(libc::AF_INET, libc::SOCK_DGRAM, 0, 0, 0).unwrap();
        let b = InetSocket::new(libc::AF_INET, libc::SOCK_DGRAM, 0, 0, 0).unwrap();
        a.bind(&v4(0)).unwrap();
        b.bind(&v4(0)).unwrap();
        let pb = port_of(&b.name(false).unwrap());
        assert_eq!(a.sendmsg(b"dgram", Some(&v4(pb)), &[], 0).unwrap(), 5);
        wait(&b, libc::POLLIN as u32);
        let mut buf = [0u8; 3];
        let (n, from, _, fl) = b.recvmsg(&mut buf, true, 0, 0).unwrap();
        assert_eq!(n, 3);
        assert!(fl & libc::MSG_TRUNC != 0);
        assert_eq!(port_of(&from), port_of(&a.name(false).unwrap()));
    }

    #[test]
    fn netlink_requests_are_read_only() {
        // RTM_GETLINK dump request: nlmsghdr (16) + ifinfomsg (16).
        let mut req = 32u32.to_le_bytes().to_vec();
        req.extend_from_slice(&18u16.to_le_bytes());
        req.extend_from_slice(&0x301u16.to_le_bytes());
        req.extend_from_slice(&[0; 8]);
        req.extend_from_slice(&[0; 16]);
        assert!(check_netlink_request(&req).is_ok());
        let mut new_link = req.clone();
        new_link[4] = 16; // RTM_NEWLINK
        assert_eq!(check_netlink_request(&new_link), Err(Errno::EPERM));
        let mut bad = req.clone();
        bad[0] = 200;
        assert_eq!(check_netlink_request(&bad), Err(Errno::EINVAL));
        let s =
            InetSocket::new(libc::AF_NETLINK, libc::SOCK_RAW, libc::NETLINK_ROUTE, 0, 0).unwrap();
        let kernel = {
            let mut a = (libc::AF_NETLINK as u16).to_le_bytes().to_vec();
            a.resize(12, 0);
            a
        };
        assert!(s.check_addr(&kernel, true).is_ok());
        let mut other = kernel.clone();
        other[4] = 7; // another process's port
        assert_eq!(s.check_addr(&other, true), Err(Errno::EPERM));
        assert!(s.sendmsg(&req, Some(&kernel), &[], 0).is_ok());
        assert!(matches!(
            InetSocket::new(libc::AF_NETLINK, libc::SOCK_RAW, libc::NETLINK_AUDIT, 0, 0),
            Err(e) if e == Errno::EPROTONOSUPPORT
        ));
    }

    #[test]
    fn address_and_type_checks() {
        let s = InetSocket::new(libc::AF_INET, libc::SOCK_DGRAM, 0, 0, 0).unwrap();
        assert_eq!(s.check_addr(&[2, 0, 0], false), Err(Errno::EINVAL));
        assert_eq!(s.check_addr(&[10, 0], false), Err(Errno::EAFNOSUPPORT));
        assert!(s.check_addr(&v4(1), false).is_ok());
        assert_eq!(s.check_addr(&[0; 200], false), Err(Errno::EINVAL));
        assert_eq!(check_type(libc::SOCK_RAW, 0), Err(Errno::EPERM));
        assert_eq!(
            check_type(libc::SOCK_STREAM, libc::IPPROTO_UDP),
            Err(Errno::EPROTONOSUPPORT)
        );
        assert!(!InetSocket::option_allowed(
            libc::SOL_SOCKET,
            libc::SO_BINDTODEVICE,
            true
        ));
        assert!(InetSocket::option_allowed(
            libc::IPPROTO_TCP,
            libc::TCP_NODELAY,
            true
        ));
        assert!(!InetSocket::option_allowed(
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            true
        ));
    }
}
