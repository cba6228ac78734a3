//! Sockets.
//!
//! * `unix`: AF_UNIX stream, datagram and seqpacket sockets, entirely inside the sentry (names in
//!   the VFS or in the sandbox's abstract namespace, SCM_RIGHTS, SCM_CREDENTIALS).
//! * `inet`: AF_INET / AF_INET6 TCP and UDP as host sockets that the sentry owns, in the
//!   sandbox's network namespace. The workload never holds the host fd; blocking is emulated by
//!   the event loop watching the host fd.
//!
//! The syscalls (`syscalls/net.rs`) decode arguments and copy memory; this room holds the
//! socket objects and their semantics.

pub mod inet;
pub mod unix;

use crate::errno::Errno;
use crate::vfs::file::OpenFile;
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::time::Duration;

/// st_dev of socket files (Linux's sockfs is an anonymous device too).
pub const DEV_SOCKFS: u64 = 0x30;

/// POLLRDHUP (not in the vfs constant set: only sockets report it).
pub const POLLRDHUP: u32 = 0x2000;

/// Longest option value copied in or out (struct tcp_info is the largest we pass, ~250 bytes).
pub const MAX_OPTLEN: usize = 512;

/// A socket open file, seen from the syscall layer.
pub enum Sock<'a> {
    Unix(&'a unix::UnixSocket),
    Inet(&'a inet::InetSocket),
}

/// The socket behind an open file, or ENOTSOCK.
pub fn sock_of(f: &OpenFile) -> Result<Sock<'_>, Errno> {
    let any = f.ops.as_any();
    if let Some(u) = any.downcast_ref::<unix::UnixSocket>() {
        return Ok(Sock::Unix(u));
    }
    if let Some(i) = any.downcast_ref::<inet::InetSocket>() {
        return Ok(Sock::Inet(i));
    }
    Err(Errno::ENOTSOCK)
}

impl Sock<'_> {
    pub fn common(&self) -> &SockCommon {
        match self {
            Sock::Unix(u) => &u.common,
            Sock::Inet(i) => &i.common,
        }
    }
}

/// What every socket file carries besides its protocol state.
#[derive(Debug)]
pub struct SockCommon {
    /// The inode number /proc/pid/fd shows as `socket:[ino]` and fstat reports.
    pub ino: u64,
    /// Owner reported by fstat (the creator's fsuid/fsgid, as sockfs does).
    pub uid: u32,
    pub gid: u32,
    /// SO_RCVTIMEO / SO_SNDTIMEO, emulated in the sentry: None blocks forever.
    pub rcvtimeo: Cell<Option<Duration>>,
    pub sndtimeo: Cell<Option<Duration>>,
    /// SOL_SOCKET options that only need to read back what was set (unix sockets).
    pub stored: RefCell<BTreeMap<i32, Vec<u8>>>,
}

impl SockCommon {
    pub fn new(uid: u32, gid: u32) -> SockCommon {
        SockCommon {
            ino: crate::vfs::inode::next_ino(),
            uid,
            gid,
            rcvtimeo: Cell::new(None),
            sndtimeo: Cell::new(None),
            stored: RefCell::new(BTreeMap::new()),
        }
    }

    /// `socket:[ino]`, the name /proc/pid/fd shows.
    pub fn proc_name(&self) -> Vec<u8> {
        format!("socket:[{}]", self.ino).into_bytes()
    }
}

/// Option numbers the sentry emulates for every family (x86-64 values; the _NEW variants
/// carry a 64-bit timeval, which on x86-64 has the same layout as the old one).
pub const SO_RCVTIMEO_OLD: i32 = 20;
pub const SO_SNDTIMEO_OLD: i32 = 21;
pub const SO_RCVTIMEO_NEW: i32 = 66;
pub const SO_SNDTIMEO_NEW: i32 = 67;

/// Decodes a struct timeval for SO_RCVTIMEO/SO_SNDTIMEO. Zero means "no timeout"; a negative
/// time means "do not wait at all", as Linux's sock_set_timeout does.
pub fn parse_timeval(v: &[u8]) -> Result<Option<Duration>, Errno> {
    if v.len() < 16 {
        return Err(Errno::EINVAL);
    }
    let sec = i64::from_le_bytes(v[0..8].try_into().map_err(|_| Errno::EINVAL)?);
    let usec = i64::from_le_bytes(v[8..16].try_into().map_err(|_| Errno::EINVAL)?);
    if !(0..1_000_000).contains(&usec) {
        return Err(Errno(libc::EDOM));
    }
    if sec < 0 {
        return Ok(Some(Duration::ZERO));
    }
    if sec == 0 && usec == 0 {
        return Ok(None);
    }
    Ok(Some(Duration::new(sec as u64, usec as u32 * 1000)))
}

pub fn encode_timeval(d: Option<Duration>) -> Vec<u8> {
    let (s, us) = match d {
        None => (0i64, 0i64),
        Some(d) => (d.as_secs() as i64, d.subsec_micros() as i64),
    };
    let mut v = s.to_le_bytes().to_vec();
    v.extend_from_slice(&us.to_le_bytes());
    v
}

pub fn int_bytes(v: i32) -> Vec<u8> {
    v.to_le_bytes().to_vec()
}

/// Reads an int option value (Linux accepts longer buffers and reads the first int).
pub fn opt_int(v: &[u8]) -> Result<i32, Errno> {
    if v.len() < 4 {
        return Err(Errno::EINVAL);
    }
    Ok(i32::from_le_bytes([v[0], v[1], v[2], v[3]]))
}

/// The SO_SNDTIMEO (waiting for POLLOUT) or SO_RCVTIMEO of a socket file, for read(2) and
/// write(2), which go through the generic file path.
pub fn io_timeout(f: &OpenFile, events: u32) -> Option<Duration> {
    let s = sock_of(f).ok()?;
    let c = s.common();
    if events & crate::vfs::file::POLLOUT != 0 {
        c.sndtimeo.get()
    } else {
        c.rcvtimeo.get()
    }
}

/// fstat of a socket file: S_IFSOCK, its own inode number.
pub fn stat_socket(f: &OpenFile) -> Option<libc::stat> {
    let s = sock_of(f).ok()?;
    let c = s.common();
    // SAFETY: libc::stat is plain data; all-zero is a valid value.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    st.st_dev = DEV_SOCKFS;
    st.st_ino = c.ino;
    st.st_mode = libc::S_IFSOCK | 0o777;
    st.st_nlink = 1;
    st.st_uid = c.uid;
    st.st_gid = c.gid;
    st.st_blksize = 4096;
    Some(st)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeval_round_trip() {
        let d = Some(Duration::new(3, 250_000_000));
        assert_eq!(parse_timeval(&encode_timeval(d)).unwrap(), d);
        assert_eq!(parse_timeval(&encode_timeval(None)).unwrap(), None);
        let mut bad = encode_timeval(d);
        bad[8..16].copy_from_slice(&2_000_000i64.to_le_bytes());
        assert_eq!(parse_timeval(&bad), Err(Errno(libc::EDOM)));
        assert_eq!(parse_timeval(&[0; 8]), Err(Errno::EINVAL));
    }
}
