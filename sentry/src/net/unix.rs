//! AF_UNIX sockets, entirely inside the sentry.
//!
//! An [`Endpoint`] is one socket: its state, its bound name, its receive queue. Connected
//! endpoints point at each other with `Weak` links (no cycles); the open file's
//! [`UnixSocket`] owns the endpoint, and a listener's backlog owns the server halves of
//! connections not yet accepted. When the last owner goes, `Drop` tells the peer (EOF,
//! ECONNRESET), like `PipeEnd` does for pipes.
//!
//! A sender writes straight into the receiver's queue, so a stream socket's send buffer is the
//! peer's receive queue (bounded by the sender's SO_SNDBUF, as Linux bounds it by wmem).
//!
//! Names: a path name is an `InodeKind::Socket` inode whose slot holds a `Weak` link to the
//! bound endpoint (`syscalls/net.rs` creates and resolves it through the VFS); abstract names
//! live in a per-sandbox table here. Both vanish with the socket (the path's file stays, as on
//! Linux, and refuses connections).
//!
//! Borrow discipline: an endpoint's state is a `RefCell`. Code never holds two endpoints'
//! states at once when they could be the same endpoint, and never drops queued messages (which
//! may own open files, hence other endpoints) while a state is borrowed.

use super::{SockCommon, POLLRDHUP};
use crate::errno::Errno;
use crate::vfs::file::{FileOps, OpenFile, POLLERR, POLLHUP, POLLIN, POLLOUT};
use crate::vfs::file::{POLLRDNORM, POLLWRNORM};
use std::any::Any;
use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::rc::{Rc, Weak};

/// Linux's default SO_SNDBUF/SO_RCVBUF (net.core.wmem_default).
pub const BUF_DEFAULT: usize = 212_992;
/// net.core.wmem_max: SO_SNDBUF requests are capped here before doubling.
pub const BUF_MAX: usize = 212_992;
/// net.unix.max_dgram_qlen: a datagram/seqpacket receive queue is full beyond this many.
pub const MAX_DGRAM_QLEN: usize = 10;
/// Most file descriptors one SCM_RIGHTS message may carry.
pub const SCM_MAX_FD: usize = 253;
/// Largest listen() backlog (net.core.somaxconn).
pub const SOMAXCONN: usize = 4096;
/// sizeof(sun_path).
pub const UNIX_PATH_MAX: usize = 108;

pub type SlotRef = Weak<Endpoint>;

/// The sandbox-side state behind a path-named socket inode (`InodeKind::Socket`): the bound
/// endpoint while it lives.
#[derive(Debug, Default)]
pub struct BoundSlot(pub RefCell<Option<SlotRef>>);

impl BoundSlot {
    pub fn endpoint(&self) -> Option<Rc<Endpoint>> {
        self.0.borrow().as_ref().and_then(|w| w.upgrade())
    }
    pub fn set(&self, ep: &Rc<Endpoint>) {
        *self.0.borrow_mut() = Some(Rc::downgrade(ep));
    }
}

/// A socket name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum UnixAddr {
    /// A filesystem path (as given to bind, without the trailing NUL).
    Path(Vec<u8>),
    /// An abstract name (the bytes after the leading NUL, NULs included).
    Abstract(Vec<u8>),
}

impl UnixAddr {
    /// Parses a sockaddr_un of exactly the length the caller gave. `Ok(None)` is the bare
    /// family (autobind for bind(2)).
    pub fn parse(raw: &[u8]) -> Result<Option<UnixAddr>, Errno> {
        if raw.len() < 2 || raw.len() > 2 + UNIX_PATH_MAX {
            return Err(Errno::EINVAL);
        }
        if u16::from_le_bytes([raw[0], raw[1]]) != libc::AF_UNIX as u16 {
            return Err(Errno::EINVAL);
        }
        let path = &raw[2..];
        if path.is_empty() {
            return Ok(None);
        }
        if path[0] == 0 {
            return Ok(Some(UnixAddr::Abstract(path[1..].to_vec())));
        }
        let end = path.iter().position(|&c| c == 0).unwrap_or(path.len());
        Ok(Some(UnixAddr::Path(path[..end].to_vec())))
    }

    /// The sockaddr_un getsockname/accept/recvfrom report, with its length.
    pub fn encode(a: Option<&UnixAddr>) -> Vec<u8> {
        let mut v = (libc::AF_UNIX as u16).to_le_bytes().to_vec();
        match a {
            None => {}
            Some(UnixAddr::Path(p)) => {
                v.extend_from_slice(p);
                v.push(0);
            }
            Some(UnixAddr::Abstract(n)) => {
                v.push(0);
                v.extend_from_slice(n);
            }
        }
        v
    }
}

/// Process credentials as SCM_CREDENTIALS and SO_PEERCRED carry them (virtual ids).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ucred {
    pub pid: i32,
    pub uid: u32,
    pub gid: u32,
}

impl Ucred {
    pub fn to_bytes(self) -> Vec<u8> {
        let mut v = crate::kernel::pidns::vpid(self.pid).to_le_bytes().to_vec();
        v.extend_from_slice(&self.uid.to_le_bytes());
        v.extend_from_slice(&self.gid.to_le_bytes());
        v
    }
}

/// One queued message (a datagram, or a chunk of a stream).
#[derive(Debug)]
pub struct Msg {
    data: Vec<u8>,
    /// Bytes of a stream chunk already read.
    off: usize,
    /// The sender's name when it sent.
    from: Option<UnixAddr>,
    rights: Vec<Rc<OpenFile>>,
    creds: Ucred,
}

impl Msg {
    fn left(&self) -> usize {
        self.data.len() - self.off
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Stream,
    Dgram,
    Seqpacket,
}

impl Kind {
    /// From a socket(2) type without flags. SOCK_RAW is SOCK_DGRAM for AF_UNIX, as on Linux.
    pub fn from_type(ty: i32) -> Result<Kind, Errno> {
        match ty {
            libc::SOCK_STREAM => Ok(Kind::Stream),
            libc::SOCK_DGRAM | libc::SOCK_RAW => Ok(Kind::Dgram),
            libc::SOCK_SEQPACKET => Ok(Kind::Seqpacket),
            _ => Err(Errno(libc::ESOCKTNOSUPPORT)),
        }
    }
    pub fn sock_type(self) -> i32 {
        match self {
            Kind::Stream => libc::SOCK_STREAM,
            Kind::Dgram => libc::SOCK_DGRAM,
            Kind::Seqpacket => libc::SOCK_SEQPACKET,
        }
    }
    fn connection(self) -> bool {
        self != Kind::Dgram
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Unconnected,
    Listening,
    Connected,
}

#[derive(Debug)]
pub struct EpState {
    state: State,
    name: Option<UnixAddr>,
    /// Connected peer (stream/seqpacket), or the default destination (datagram).
    peer: Option<Weak<Endpoint>>,
    /// The peer's name when we connected (getpeername after the peer's name went away).
    peer_name: Option<UnixAddr>,
    rx: VecDeque<Msg>,
    rx_bytes: usize,
    /// Linux's sk_shutdown bits: no more data will arrive / may be sent.
    rcv_shut: bool,
    snd_shut: bool,
    /// Pending socket error (SO_ERROR), e.g. ECONNRESET when the peer closed with unread data.
    err: Option<Errno>,
    pub passcred: bool,
    peercred: Option<Ucred>,
    pub sndbuf: usize,
    pub rcvbuf: usize,
    backlog: usize,
    /// Server halves of connections waiting for accept().
    pending: VecDeque<Rc<Endpoint>>,
    /// A server half that nobody accepted yet.
    embryo: bool,
}

/// One AF_UNIX socket.
#[derive(Debug)]
pub struct Endpoint {
    pub kind: Kind,
    pub st: RefCell<EpState>,
    /// Credentials of the last task that used the socket through a socket syscall: what
    /// write(2) stamps on its data (the FileOps path has no caller identity).
    pub owner: Cell<Ucred>,
    /// Grows with every event on this endpoint (data queued or taken, shutdown, connection):
    /// edge-triggered epoll reports a ready socket again when it moves.
    seq: Cell<u64>,
}

thread_local! {
    /// The sandbox's abstract socket namespace. The sentry is one thread per sandbox. As in
    /// Linux (whose hash includes the type), each socket type has its own names.
    static ABSTRACT: RefCell<HashMap<(Kind, Vec<u8>), Weak<Endpoint>>> = RefCell::new(HashMap::new());
    static AUTOBIND: Cell<u32> = const { Cell::new(0) };
}

/// The live endpoint of type `kind` bound to an abstract name.
pub fn lookup_abstract(kind: Kind, name: &[u8]) -> Option<Rc<Endpoint>> {
    ABSTRACT.with(|t| {
        t.borrow()
            .get(&(kind, name.to_vec()))
            .and_then(|w| w.upgrade())
    })
}

/// What a receive produced.
#[derive(Debug, Default)]
pub struct Recv {
    /// Bytes copied into the buffer.
    pub n: usize,
    /// The message's full length (for MSG_TRUNC on datagrams).
    pub full: usize,
    pub from: Option<UnixAddr>,
    pub rights: Vec<Rc<OpenFile>>,
    /// Set when SO_PASSCRED is on.
    pub creds: Option<Ucred>,
    /// MSG_TRUNC when a datagram was cut short.
    pub flags: i32,
}

impl Endpoint {
    pub fn new(kind: Kind, owner: Ucred) -> Rc<Endpoint> {
        Rc::new(Endpoint {
            kind,
            owner: Cell::new(owner),
            seq: Cell::new(0),
            st: RefCell::new(EpState {
                state: State::Unconnected,
                name: None,
                peer: None,
                peer_name: None,
                rx: VecDeque::new(),
                rx_bytes: 0,
                rcv_shut: false,
                snd_shut: false,
                err: None,
                passcred: false,
                peercred: None,
                sndbuf: BUF_DEFAULT,
                rcvbuf: BUF_DEFAULT,
                backlog: 0,
                pending: VecDeque::new(),
                embryo: false,
            }),
        })
    }

    /// socketpair(2): two connected endpoints, each crediting the creator.
    pub fn pair(kind: Kind, creds: Ucred) -> (Rc<Endpoint>, Rc<Endpoint>) {
        let a = Endpoint::new(kind, creds);
        let b = Endpoint::new(kind, creds);
        for (x, y) in [(&a, &b), (&b, &a)] {
            let mut s = x.st.borrow_mut();
            s.state = State::Connected;
            s.peer = Some(Rc::downgrade(y));
            s.peercred = Some(creds);
        }
        (a, b)
    }

    fn bump(&self) {
        self.seq.set(self.seq.get().wrapping_add(1));
    }

    /// FileOps::event_seq: our events plus the peer's (its reads make room for our writes).
    pub fn event_seq(&self) -> u64 {
        let mine = self.seq.get();
        match self.peer() {
            Some(p) if !std::ptr::eq(Rc::as_ptr(&p), self) => mine.wrapping_add(p.seq.get()),
            _ => mine,
        }
    }

    pub fn name(&self) -> Option<UnixAddr> {
        self.st.borrow().name.clone()
    }

    pub fn is_bound(&self) -> bool {
        self.st.borrow().name.is_some()
    }

    pub fn is_connected(&self) -> bool {
        self.st.borrow().state == State::Connected
    }

    pub fn is_listening(&self) -> bool {
        self.st.borrow().state == State::Listening
    }

    fn peer(&self) -> Option<Rc<Endpoint>> {
        self.st.borrow().peer.as_ref().and_then(|w| w.upgrade())
    }

    /// getpeername(2).
    pub fn peer_name(&self) -> Result<Option<UnixAddr>, Errno> {
        let (connected, snapshot) = {
            let s = self.st.borrow();
            let connected = match self.kind {
                Kind::Dgram => s.peer.is_some(),
                _ => s.state == State::Connected,
            };
            (connected, s.peer_name.clone())
        };
        if !connected {
            return Err(Errno::ENOTCONN);
        }
        match self.peer() {
            Some(p) if !std::ptr::eq(Rc::as_ptr(&p), self) => Ok(p.name().or(snapshot)),
            Some(_) => Ok(self.name()),
            None => Ok(snapshot),
        }
    }

    /// Records a path name after the caller created its inode. EINVAL if already bound.
    pub fn set_path_name(&self, path: Vec<u8>) -> Result<(), Errno> {
        let mut s = self.st.borrow_mut();
        if s.name.is_some() {
            return Err(Errno::EINVAL);
        }
        s.name = Some(UnixAddr::Path(path));
        Ok(())
    }

    /// Binds an abstract name.
    pub fn bind_abstract(self: &Rc<Self>, name: Vec<u8>) -> Result<(), Errno> {
        if self.is_bound() {
            return Err(Errno::EINVAL);
        }
        let key = (self.kind, name.clone());
        let taken = ABSTRACT.with(|t| {
            let mut t = t.borrow_mut();
            if t.get(&key).is_some_and(|w| w.strong_count() > 0) {
                return true;
            }
            t.insert(key, Rc::downgrade(self));
            false
        });
        if taken {
            return Err(Errno::EADDRINUSE);
        }
        self.st.borrow_mut().name = Some(UnixAddr::Abstract(name));
        Ok(())
    }

    /// Gives an unbound socket an abstract name of five hex digits, as Linux's autobind.
    pub fn autobind(self: &Rc<Self>) -> Result<(), Errno> {
        if self.is_bound() {
            return Ok(());
        }
        for _ in 0..0x100000 {
            let n = AUTOBIND.with(|c| {
                let v = c.get();
                c.set((v + 1) & 0xfffff);
                v
            });
            let name = format!("{n:05x}").into_bytes();
            match self.bind_abstract(name) {
                Ok(()) => return Ok(()),
                Err(e) if e == Errno::EADDRINUSE => continue,
                Err(e) => return Err(e),
            }
        }
        Err(Errno::ENOSPC)
    }

    /// listen(2). `creds` become the SO_PEERCRED that connecting clients see.
    pub fn listen(&self, backlog: i32, creds: Ucred) -> Result<(), Errno> {
        if !self.kind.connection() {
            return Err(Errno::EOPNOTSUPP);
        }
        let mut s = self.st.borrow_mut();
        if s.name.is_none() || s.state == State::Connected {
            return Err(Errno::EINVAL);
        }
        s.backlog = (backlog.max(0) as usize).min(SOMAXCONN);
        s.state = State::Listening;
        s.peercred = Some(creds);
        Ok(())
    }

    /// connect(2) of a stream/seqpacket socket to a listener. `EAGAIN` when the backlog is
    /// full (the caller blocks or reports it).
    pub fn connect(self: &Rc<Self>, listener: &Rc<Endpoint>, creds: Ucred) -> Result<(), Errno> {
        if !self.kind.connection() {
            return Err(Errno::EINVAL);
        }
        if listener.kind != self.kind {
            return Err(Errno(libc::EPROTOTYPE));
        }
        {
            let s = self.st.borrow();
            match s.state {
                State::Connected => return Err(Errno::EISCONN),
                State::Listening => return Err(Errno::EINVAL),
                State::Unconnected => {}
            }
        }
        if Rc::ptr_eq(self, listener) {
            return Err(Errno::ECONNREFUSED);
        }
        let (lname, lcreds, sndbuf) = {
            let l = listener.st.borrow();
            if l.state != State::Listening {
                return Err(Errno::ECONNREFUSED);
            }
            // Linux admits backlog + 1 connections (unix_recvq_full is "> backlog").
            if l.pending.len() > l.backlog {
                return Err(Errno::EAGAIN);
            }
            (l.name.clone(), l.peercred.unwrap_or_default(), l.sndbuf)
        };
        if self.st.borrow().passcred {
            self.autobind()?;
        }
        let srv = Endpoint::new(self.kind, listener.owner.get());
        {
            let mut s = srv.st.borrow_mut();
            s.state = State::Connected;
            s.name = lname.clone();
            s.peer = Some(Rc::downgrade(self));
            s.peer_name = self.name();
            s.peercred = Some(creds);
            s.embryo = true;
            s.sndbuf = sndbuf;
        }
        {
            let mut s = self.st.borrow_mut();
            s.state = State::Connected;
            s.peer = Some(Rc::downgrade(&srv));
            s.peer_name = lname;
            s.peercred = Some(lcreds);
        }
        listener.st.borrow_mut().pending.push_back(srv);
        listener.bump();
        self.bump();
        Ok(())
    }

    /// connect(2) of a datagram socket: sets (or with None, clears) the default destination.
    /// A socket connected elsewhere cannot be connected to (EPERM, Linux's unix_may_send).
    pub fn connect_dgram(&self, target: Option<&Rc<Endpoint>>) -> Result<(), Errno> {
        let name = match target {
            Some(t) if t.kind != Kind::Dgram => return Err(Errno(libc::EPROTOTYPE)),
            Some(t) if std::ptr::eq(Rc::as_ptr(t), self) => self.name(),
            Some(t) => {
                let ts = t.st.borrow();
                if let Some(tp) = ts.peer.as_ref() {
                    if tp.strong_count() > 0 && !std::ptr::eq(tp.as_ptr(), self) {
                        return Err(Errno::EPERM);
                    }
                }
                ts.name.clone()
            }
            None => None,
        };
        let mut s = self.st.borrow_mut();
        s.peer = target.map(Rc::downgrade);
        s.peer_name = name;
        Ok(())
    }

    /// accept(2): the next pending connection, or EAGAIN.
    pub fn accept(&self) -> Result<Rc<Endpoint>, Errno> {
        if !self.kind.connection() {
            return Err(Errno::EOPNOTSUPP);
        }
        let mut s = self.st.borrow_mut();
        if s.state != State::Listening {
            return Err(Errno::EINVAL);
        }
        let srv = s.pending.pop_front().ok_or(Errno::EAGAIN)?;
        drop(s);
        srv.st.borrow_mut().embryo = false;
        Ok(srv)
    }

    /// Sends `data` to the peer (or to `target`, a datagram socket's explicit destination).
    /// `block` says whether the caller would wait: a blocking stream send takes the whole
    /// buffer once there is room, so one write is never split (the syscall is re-run from the
    /// start after a wait and could not resume half way).
    pub fn send(
        self: &Rc<Self>,
        target: Option<Rc<Endpoint>>,
        data: &[u8],
        rights: Vec<Rc<OpenFile>>,
        creds: Ucred,
        block: bool,
    ) -> Result<usize, Errno> {
        match self.kind {
            Kind::Stream => self.send_stream(data, rights, creds, block),
            Kind::Seqpacket => {
                if self.st.borrow().state != State::Connected {
                    return Err(Errno::ENOTCONN);
                }
                self.send_dgram(None, data, rights, creds)
            }
            Kind::Dgram => self.send_dgram(target, data, rights, creds),
        }
    }

    fn send_stream(
        &self,
        data: &[u8],
        rights: Vec<Rc<OpenFile>>,
        creds: Ucred,
        block: bool,
    ) -> Result<usize, Errno> {
        let (peer, from, sndbuf) = {
            let s = self.st.borrow();
            if s.state != State::Connected {
                return Err(Errno::ENOTCONN);
            }
            if s.snd_shut {
                return Err(Errno::EPIPE);
            }
            (
                s.peer.as_ref().and_then(|w| w.upgrade()),
                s.name.clone(),
                s.sndbuf,
            )
        };
        let peer = peer.ok_or(Errno::EPIPE)?;
        if data.is_empty() {
            return Ok(0);
        }
        let mut p = peer.st.borrow_mut();
        if p.rcv_shut {
            return Err(Errno::EPIPE);
        }
        let room = sndbuf.saturating_sub(p.rx_bytes);
        if room == 0 {
            return Err(Errno::EAGAIN);
        }
        let n = if block {
            data.len()
        } else {
            data.len().min(room)
        };
        p.rx_bytes += n;
        p.rx.push_back(Msg {
            data: data[..n].to_vec(),
            off: 0,
            from,
            rights,
            creds,
        });
        drop(p);
        peer.bump();
        Ok(n)
    }

    fn send_dgram(
        self: &Rc<Self>,
        target: Option<Rc<Endpoint>>,
        data: &[u8],
        rights: Vec<Rc<OpenFile>>,
        creds: Ucred,
    ) -> Result<usize, Errno> {
        let (sndbuf, passcred, seq) = {
            let s = self.st.borrow();
            if self.kind == Kind::Seqpacket && s.snd_shut {
                return Err(Errno::EPIPE);
            }
            (s.sndbuf, s.passcred, self.kind == Kind::Seqpacket)
        };
        let explicit = target.is_some() && !seq;
        let other = match target.filter(|_| !seq) {
            Some(t) => t,
            None => {
                let connected = self.st.borrow().peer.is_some();
                if !connected {
                    return Err(Errno::ENOTCONN);
                }
                match self.peer() {
                    Some(p) => p,
                    None if seq => return Err(Errno::EPIPE),
                    None => {
                        // The destination closed: forget it, as Linux does.
                        let mut s = self.st.borrow_mut();
                        s.peer = None;
                        s.peer_name = None;
                        return Err(Errno::ECONNREFUSED);
                    }
                }
            }
        };
        if data.len() > sndbuf.saturating_sub(32) {
            return Err(Errno::EMSGSIZE);
        }
        let to_self = Rc::ptr_eq(&other, self);
        if explicit && !to_self {
            // A datagram socket connected elsewhere only takes datagrams from its peer.
            let o = other.st.borrow();
            if let Some(op) = o.peer.as_ref() {
                if op.strong_count() > 0 && !std::ptr::eq(op.as_ptr(), Rc::as_ptr(self)) {
                    return Err(Errno::EPERM);
                }
            }
        }
        if passcred || other.st.borrow().passcred {
            self.autobind()?;
        }
        let from = self.name();
        let mut o = other.st.borrow_mut();
        if o.rcv_shut {
            return Err(Errno::EPIPE);
        }
        if o.rx.len() > MAX_DGRAM_QLEN {
            return Err(Errno::EAGAIN);
        }
        o.rx_bytes += data.len();
        o.rx.push_back(Msg {
            data: data.to_vec(),
            off: 0,
            from,
            rights,
            creds,
        });
        drop(o);
        other.bump();
        Ok(data.len())
    }

    /// Receives into `buf`. Flags: MSG_PEEK, MSG_TRUNC, MSG_WAITALL (streams, when `block`).
    /// EAGAIN when nothing is there yet.
    pub fn recv(&self, buf: &mut [u8], flags: i32, block: bool) -> Result<Recv, Errno> {
        match self.kind {
            Kind::Stream => self.recv_stream(buf, flags, block),
            _ => self.recv_dgram(buf, flags),
        }
    }

    fn recv_stream(&self, buf: &mut [u8], flags: i32, block: bool) -> Result<Recv, Errno> {
        let peek = flags & libc::MSG_PEEK != 0;
        // MSG_WAITALL waits for at most what the writer may queue (its SO_SNDBUF).
        let wait_cap = self.peer().map_or(0, |p| p.st.borrow().sndbuf);
        let mut s = self.st.borrow_mut();
        if s.state != State::Connected {
            return Err(Errno::EINVAL);
        }
        if s.rx.is_empty() {
            if let Some(e) = s.err.take() {
                return Err(e);
            }
            if s.rcv_shut || buf.is_empty() {
                return Ok(Recv::default());
            }
            return Err(Errno::EAGAIN);
        }
        if flags & libc::MSG_WAITALL != 0
            && block
            && !peek
            && s.rx_bytes < buf.len()
            && s.rx_bytes < wait_cap
            && !s.rcv_shut
        {
            return Err(Errno::EAGAIN);
        }
        let passcred = s.passcred;
        let mut out = Recv::default();
        let mut copied = 0;
        let mut consumed = 0;
        let mut first_creds = None;
        for (i, m) in s.rx.iter_mut().enumerate() {
            if copied == buf.len() {
                break;
            }
            // Never glue data from different writers when credentials are wanted, and never
            // mix data that carries files with data before it.
            if i > 0 && ((passcred && Some(m.creds) != first_creds) || !m.rights.is_empty()) {
                break;
            }
            if i == 0 {
                first_creds = Some(m.creds);
                out.from = m.from.clone();
            }
            let n = m.left().min(buf.len() - copied);
            buf[copied..copied + n].copy_from_slice(&m.data[m.off..m.off + n]);
            copied += n;
            let has_rights = !m.rights.is_empty();
            if has_rights {
                if peek {
                    out.rights = m.rights.clone();
                } else {
                    out.rights = std::mem::take(&mut m.rights);
                }
            }
            if !peek {
                m.off += n;
                if m.left() == 0 {
                    consumed += 1;
                }
            }
            if has_rights {
                break;
            }
        }
        let mut gone = Vec::new();
        if !peek {
            s.rx_bytes -= copied;
            gone.extend(s.rx.drain(..consumed));
            self.bump();
        }
        drop(s);
        // Messages fully read hold no files any more (they were taken above), but drop them
        // outside the borrow anyway.
        drop(gone);
        out.n = copied;
        out.full = copied;
        if passcred {
            out.creds = first_creds;
        }
        Ok(out)
    }

    fn recv_dgram(&self, buf: &mut [u8], flags: i32) -> Result<Recv, Errno> {
        let peek = flags & libc::MSG_PEEK != 0;
        let mut s = self.st.borrow_mut();
        if self.kind == Kind::Seqpacket && s.state != State::Connected {
            return Err(Errno::ENOTCONN);
        }
        let Some(m) = s.rx.front_mut() else {
            if let Some(e) = s.err.take() {
                return Err(e);
            }
            if s.rcv_shut {
                return Ok(Recv::default());
            }
            return Err(Errno::EAGAIN);
        };
        let n = m.data.len().min(buf.len());
        buf[..n].copy_from_slice(&m.data[..n]);
        let mut out = Recv {
            n,
            full: m.data.len(),
            from: m.from.clone(),
            flags: if n < m.data.len() { libc::MSG_TRUNC } else { 0 },
            ..Default::default()
        };
        let creds = m.creds;
        if peek {
            out.rights = m.rights.clone();
        } else {
            out.rights = std::mem::take(&mut m.rights);
        }
        let gone = if peek {
            None
        } else {
            self.bump();
            let m = s.rx.pop_front();
            if let Some(m) = &m {
                s.rx_bytes -= m.data.len();
            }
            m
        };
        if s.passcred {
            out.creds = Some(creds);
        }
        drop(s);
        drop(gone);
        Ok(out)
    }

    /// shutdown(2). SHUT_RD=0, SHUT_WR=1, SHUT_RDWR=2.
    pub fn shutdown(&self, how: i32) -> Result<(), Errno> {
        let (rd, wr) = match how {
            libc::SHUT_RD => (true, false),
            libc::SHUT_WR => (false, true),
            libc::SHUT_RDWR => (true, true),
            _ => return Err(Errno::EINVAL),
        };
        let peer = {
            let mut s = self.st.borrow_mut();
            if self.kind.connection() && s.state != State::Connected {
                return Err(Errno::ENOTCONN);
            }
            s.rcv_shut |= rd;
            s.snd_shut |= wr;
            s.peer.as_ref().and_then(|w| w.upgrade())
        };
        self.bump();
        // A connection's peer sees the mirror image: our SHUT_WR is its end of input.
        if self.kind.connection() {
            if let Some(p) = peer {
                if !std::ptr::eq(Rc::as_ptr(&p), self) {
                    let mut ps = p.st.borrow_mut();
                    ps.rcv_shut |= wr;
                    ps.snd_shut |= rd;
                    p.bump();
                }
            }
        }
        Ok(())
    }

    /// Readiness, as Linux's unix_poll / unix_dgram_poll compute it.
    pub fn poll(&self) -> u32 {
        let Ok(s) = self.st.try_borrow() else {
            return 0;
        };
        let mut m = 0;
        if s.err.is_some() {
            m |= POLLERR;
        }
        if s.rcv_shut && s.snd_shut {
            m |= POLLHUP;
        }
        if s.rcv_shut {
            m |= POLLRDHUP | POLLIN | POLLRDNORM;
        }
        match s.state {
            State::Listening => {
                if !s.pending.is_empty() {
                    m |= POLLIN | POLLRDNORM;
                }
                return m;
            }
            State::Unconnected if self.kind.connection() => {
                // An unconnected stream socket is "hung up" and writable (writes fail at once).
                return m | POLLHUP | POLLOUT | POLLWRNORM;
            }
            _ => {}
        }
        if !s.rx.is_empty() {
            m |= POLLIN | POLLRDNORM;
        }
        let peer = s.peer.as_ref().and_then(|w| w.upgrade());
        let sndbuf = s.sndbuf;
        let snd_shut = s.snd_shut;
        drop(s);
        let writable = match peer {
            // A dead peer: writes fail at once, so the socket counts as writable.
            None => true,
            Some(p) if std::ptr::eq(Rc::as_ptr(&p), self) => {
                self.st.borrow().rx.len() <= MAX_DGRAM_QLEN
            }
            Some(p) => match p.st.try_borrow() {
                Ok(ps) => match self.kind {
                    Kind::Stream => ps.rx_bytes < sndbuf || ps.rcv_shut,
                    _ => ps.rx.len() <= MAX_DGRAM_QLEN || ps.rcv_shut,
                },
                Err(_) => true,
            },
        };
        if writable || snd_shut {
            m |= POLLOUT | POLLWRNORM;
        }
        m
    }

    /// SO_ERROR: takes the pending error.
    pub fn take_error(&self) -> i32 {
        self.st.borrow_mut().err.take().map_or(0, |e| e.0)
    }

    pub fn peercred(&self) -> Option<Ucred> {
        self.st.borrow().peercred
    }

    /// FIONREAD/SIOCINQ: a stream's queued bytes, a datagram's next message size.
    pub fn inq(&self) -> usize {
        let s = self.st.borrow();
        match self.kind {
            Kind::Stream => s.rx_bytes,
            _ => s.rx.front().map_or(0, |m| m.data.len()),
        }
    }

    /// SIOCOUTQ: bytes we sent that the peer has not read.
    pub fn outq(&self) -> usize {
        match self.peer() {
            Some(p) if !std::ptr::eq(Rc::as_ptr(&p), self) => p.st.borrow().rx_bytes,
            _ => 0,
        }
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        let kind = self.kind;
        let me = self as *const Endpoint;
        let st = self.st.get_mut();
        if let Some(UnixAddr::Abstract(name)) = &mut st.name {
            ABSTRACT.with(|t| {
                if let Ok(mut t) = t.try_borrow_mut() {
                    let key = (kind, std::mem::take(name));
                    if t.get(&key).is_some_and(|w| std::ptr::eq(w.as_ptr(), me)) {
                        t.remove(&key);
                    }
                }
            });
        }
        if kind.connection() {
            if let Some(p) = st.peer.as_ref().and_then(|w| w.upgrade()) {
                p.bump();
                if let Ok(mut ps) = p.st.try_borrow_mut() {
                    ps.rcv_shut = true;
                    ps.snd_shut = true;
                    if !st.rx.is_empty() || st.embryo {
                        ps.err = Some(Errno::ECONNRESET);
                    }
                }
            }
        }
        // Unaccepted connections and queued files go now; their own drops tell their peers.
        let pending = std::mem::take(&mut st.pending);
        let rx = std::mem::take(&mut st.rx);
        drop(pending);
        drop(rx);
    }
}

/// The open-file face of an AF_UNIX socket.
#[derive(Debug)]
pub struct UnixSocket {
    pub ep: Rc<Endpoint>,
    pub common: SockCommon,
}

impl UnixSocket {
    pub fn new(ep: Rc<Endpoint>, uid: u32, gid: u32) -> UnixSocket {
        UnixSocket {
            ep,
            common: SockCommon::new(uid, gid),
        }
    }
}

impl FileOps for UnixSocket {
    fn read(&self, f: &OpenFile, buf: &mut [u8], _off: Option<u64>) -> Result<usize, Errno> {
        // Files passed with read(2) instead of recvmsg(2) are closed, as on Linux; `r` drops
        // them here, outside any socket borrow.
        let r = self.ep.recv(buf, 0, !f.nonblocking())?;
        Ok(r.n)
    }

    fn write(&self, f: &OpenFile, buf: &[u8], _off: Option<u64>) -> Result<usize, Errno> {
        self.ep
            .send(None, buf, Vec::new(), self.ep.owner.get(), !f.nonblocking())
    }

    fn poll(&self) -> u32 {
        self.ep.poll()
    }

    fn event_seq(&self) -> u64 {
        self.ep.event_seq()
    }

    fn ioctl(&self, _f: &OpenFile, req: u64, arg: u64, mem: &crate::mm::Mem) -> Result<i64, Errno> {
        let v = match req {
            libc::FIONREAD => self.ep.inq(),
            libc::TIOCOUTQ => self.ep.outq(),
            r if super::inet::is_netdev_ioctl(r) => {
                return super::inet::netdev_ioctl_any(req, arg, mem);
            }
            _ => return Err(Errno::ENOTTY),
        };
        mem.write_i32(arg, v.min(i32::MAX as usize) as i32)?;
        Ok(0)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cred(pid: i32) -> Ucred {
        Ucred {
            pid,
            uid: 1000,
            gid: 100,
        }
    }

    fn recv_all(ep: &Endpoint, n: usize) -> Result<(Vec<u8>, Recv), Errno> {
        let mut buf = vec![0u8; n];
        let r = ep.recv(&mut buf, 0, false)?;
        buf.truncate(r.n);
        Ok((buf, r))
    }

    #[test]
    fn addr_parse_and_encode() {
        let mut raw = (libc::AF_UNIX as u16).to_le_bytes().to_vec();
        raw.extend_from_slice(b"/tmp/s\0junk");
        assert_eq!(
            UnixAddr::parse(&raw).unwrap(),
            Some(UnixAddr::Path(b"/tmp/s".to_vec()))
        );
        let enc = UnixAddr::encode(Some(&UnixAddr::Path(b"/tmp/s".to_vec())));
        assert_eq!(enc.len(), 2 + 6 + 1);
        let mut ab = (libc::AF_UNIX as u16).to_le_bytes().to_vec();
        ab.extend_from_slice(b"\0x\0y");
        assert_eq!(
            UnixAddr::parse(&ab).unwrap(),
            Some(UnixAddr::Abstract(b"x\0y".to_vec()))
        );
        assert_eq!(UnixAddr::parse(&raw[..2]).unwrap(), None);
        assert_eq!(UnixAddr::parse(&[1]), Err(Errno::EINVAL));
        assert_eq!(UnixAddr::parse(&[2, 0, b'a']), Err(Errno::EINVAL));
        assert_eq!(UnixAddr::parse(&[0u8; 200]), Err(Errno::EINVAL));
    }

    #[test]
    fn stream_pair_data_eof_and_epipe() {
        let (a, b) = Endpoint::pair(Kind::Stream, cred(1));
        assert_eq!(a.send(None, b"hello", vec![], cred(1), false), Ok(5));
        assert_eq!(a.send(None, b" world", vec![], cred(1), false), Ok(6));
        assert!(b.poll() & POLLIN != 0);
        let (d, _) = recv_all(&b, 3).unwrap();
        assert_eq!(d, b"hel");
        let (d, _) = recv_all(&b, 100).unwrap();
        assert_eq!(d, b"lo world");
        assert_eq!(recv_all(&b, 10).unwrap_err(), Errno::EAGAIN);
        drop(a);
        assert!(b.poll() & POLLHUP != 0);
        assert_eq!(recv_all(&b, 10).unwrap().0, b"");
        assert_eq!(
            b.send(None, b"x", vec![], cred(1), false),
            Err(Errno::EPIPE)
        );
    }

    #[test]
    fn stream_close_with_unread_data_resets_peer() {
        let (a, b) = Endpoint::pair(Kind::Stream, cred(1));
        b.send(None, b"unread", vec![], cred(1), false).unwrap();
        drop(a);
        assert_eq!(recv_all(&b, 10).unwrap_err(), Errno::ECONNRESET);
        assert_eq!(recv_all(&b, 10).unwrap().0, b"");
    }

    #[test]
    fn stream_send_buffer_limits_nonblocking_writes() {
        let (a, b) = Endpoint::pair(Kind::Stream, cred(1));
        let big = vec![7u8; BUF_DEFAULT + 1000];
        assert_eq!(a.send(None, &big, vec![], cred(1), false), Ok(BUF_DEFAULT));
        assert_eq!(
            a.send(None, b"x", vec![], cred(1), false),
            Err(Errno::EAGAIN)
        );
        assert!(a.poll() & POLLOUT == 0);
        recv_all(&b, 4096).unwrap();
        assert!(a.poll() & POLLOUT != 0);
        // A blocking writer takes the whole buffer once there is room.
        assert_eq!(a.send(None, &big, vec![], cred(1), true), Ok(big.len()));
    }

    #[test]
    fn shutdown_wr_gives_peer_eof() {
        let (a, b) = Endpoint::pair(Kind::Stream, cred(1));
        a.send(None, b"last", vec![], cred(1), false).unwrap();
        a.shutdown(libc::SHUT_WR).unwrap();
        assert_eq!(
            a.send(None, b"x", vec![], cred(1), false),
            Err(Errno::EPIPE)
        );
        assert_eq!(recv_all(&b, 10).unwrap().0, b"last");
        assert_eq!(recv_all(&b, 10).unwrap().0, b"");
        assert!(b.poll() & POLLRDHUP != 0);
        // b can still talk to a.
        b.send(None, b"back", vec![], cred(1), false).unwrap();
        assert_eq!(recv_all(&a, 10).unwrap().0, b"back");
        assert_eq!(a.shutdown(9), Err(Errno::EINVAL));
    }

    #[test]
    fn listen_connect_accept() {
        let l = Endpoint::new(Kind::Stream, cred(1));
        assert_eq!(l.listen(1, cred(1)), Err(Errno::EINVAL)); // unbound
        l.bind_abstract(b"test-listen".to_vec()).unwrap();
        l.listen(1, cred(1)).unwrap();
        assert_eq!(l.accept().unwrap_err(), Errno::EAGAIN);
        let c1 = Endpoint::new(Kind::Stream, cred(2));
        let c2 = Endpoint::new(Kind::Stream, cred(3));
        let c3 = Endpoint::new(Kind::Stream, cred(4));
        let found = lookup_abstract(Kind::Stream, b"test-listen").unwrap();
        c1.connect(&found, cred(2)).unwrap();
        c2.connect(&found, cred(3)).unwrap();
        // backlog 1 admits two, the third waits.
        assert_eq!(c3.connect(&found, cred(4)), Err(Errno::EAGAIN));
        assert_eq!(c1.connect(&found, cred(2)), Err(Errno::EISCONN));
        assert!(l.poll() & POLLIN != 0);
        // Data sent before accept is there after it.
        c1.send(None, b"early", vec![], cred(2), false).unwrap();
        let s1 = l.accept().unwrap();
        assert_eq!(s1.peercred(), Some(cred(2)));
        assert_eq!(c1.peercred(), Some(cred(1)));
        assert_eq!(recv_all(&s1, 10).unwrap().0, b"early");
        assert_eq!(
            c1.peer_name().unwrap(),
            Some(UnixAddr::Abstract(b"test-listen".to_vec()))
        );
        assert_eq!(s1.peer_name().unwrap(), None);
        // Closing the listener resets the unaccepted connection.
        drop(found);
        drop(l);
        assert_eq!(recv_all(&c2, 10).unwrap_err(), Errno::ECONNRESET);
        assert_eq!(recv_all(&c2, 10).unwrap().0, b"");
        assert!(lookup_abstract(Kind::Stream, b"test-listen").is_none());
    }

    #[test]
    fn abstract_names_are_unique_and_freed() {
        let a = Endpoint::new(Kind::Dgram, cred(1));
        let b = Endpoint::new(Kind::Dgram, cred(1));
        a.bind_abstract(b"uniq".to_vec()).unwrap();
        assert_eq!(b.bind_abstract(b"uniq".to_vec()), Err(Errno::EADDRINUSE));
        assert_eq!(a.bind_abstract(b"other".to_vec()), Err(Errno::EINVAL));
        drop(a);
        b.bind_abstract(b"uniq".to_vec()).unwrap();
        let c = Endpoint::new(Kind::Dgram, cred(1));
        c.autobind().unwrap();
        match c.name() {
            Some(UnixAddr::Abstract(n)) => assert_eq!(n.len(), 5),
            other => panic!("autobind gave {other:?}"),
        }
    }

    #[test]
    fn dgram_boundaries_truncation_and_queue_limit() {
        let a = Endpoint::new(Kind::Dgram, cred(1));
        let b = Endpoint::new(Kind::Dgram, cred(2));
        b.bind_abstract(b"dg-b".to_vec()).unwrap();
        assert_eq!(
            a.send(None, b"x", vec![], cred(1), false),
            Err(Errno::ENOTCONN)
        );
        a.send(Some(b.clone()), b"one", vec![], cred(1), false)
            .unwrap();
        a.send(Some(b.clone()), b"two-long", vec![], cred(1), false)
            .unwrap();
        let (d, r) = recv_all(&b, 10).unwrap();
        assert_eq!(d, b"one");
        assert_eq!(r.from, None);
        let (d, r) = recv_all(&b, 3).unwrap();
        assert_eq!(d, b"two");
        assert_eq!(r.full, 8);
        assert_eq!(r.flags, libc::MSG_TRUNC);
        for _ in 0..=MAX_DGRAM_QLEN {
            a.send(Some(b.clone()), b"q", vec![], cred(1), false)
                .unwrap();
        }
        assert_eq!(
            a.send(Some(b.clone()), b"q", vec![], cred(1), false),
            Err(Errno::EAGAIN)
        );
        // Connected to b: b's closing makes the next send ECONNREFUSED, then ENOTCONN.
        a.connect_dgram(Some(&b)).unwrap();
        drop(b);
        assert_eq!(
            a.send(None, b"x", vec![], cred(1), false),
            Err(Errno::ECONNREFUSED)
        );
        assert_eq!(
            a.send(None, b"x", vec![], cred(1), false),
            Err(Errno::ENOTCONN)
        );
    }

    #[test]
    fn dgram_connected_elsewhere_refuses_others() {
        let a = Endpoint::new(Kind::Dgram, cred(1));
        let b = Endpoint::new(Kind::Dgram, cred(1));
        let c = Endpoint::new(Kind::Dgram, cred(1));
        b.connect_dgram(Some(&a)).unwrap();
        assert_eq!(
            c.send(Some(b.clone()), b"x", vec![], cred(1), false),
            Err(Errno::EPERM)
        );
        a.send(Some(b.clone()), b"ok", vec![], cred(1), false)
            .unwrap();
        // Sending to oneself works and does not trip over the borrow.
        a.send(Some(a.clone()), b"me", vec![], cred(1), false)
            .unwrap();
        assert_eq!(recv_all(&a, 10).unwrap().0, b"me");
    }

    #[test]
    fn seqpacket_keeps_boundaries_and_eof() {
        let (a, b) = Endpoint::pair(Kind::Seqpacket, cred(1));
        a.send(None, b"abc", vec![], cred(1), false).unwrap();
        a.send(None, b"defgh", vec![], cred(1), false).unwrap();
        let (d, r) = recv_all(&b, 2).unwrap();
        assert_eq!((d.as_slice(), r.flags), (&b"ab"[..], libc::MSG_TRUNC));
        assert_eq!(recv_all(&b, 10).unwrap().0, b"defgh");
        drop(a);
        assert_eq!(recv_all(&b, 10).unwrap().0, b"");
        assert_eq!(
            b.send(None, b"x", vec![], cred(1), false),
            Err(Errno::EPIPE)
        );
    }

    #[derive(Debug)]
    struct Dummy;
    impl FileOps for Dummy {
        fn as_any(&self) -> &dyn Any {
            self
        }
    }

    #[test]
    fn rights_travel_and_split_stream_reads() {
        let (a, b) = Endpoint::pair(Kind::Stream, cred(1));
        let f = OpenFile::new(0, None, b"dummy".to_vec(), Box::new(Dummy));
        a.send(None, b"ab", vec![], cred(1), false).unwrap();
        a.send(None, b"cd", vec![f.clone()], cred(1), false)
            .unwrap();
        a.send(None, b"ef", vec![], cred(1), false).unwrap();
        assert_eq!(Rc::strong_count(&f), 2);
        let (d, r) = recv_all(&b, 10).unwrap();
        assert_eq!((d.as_slice(), r.rights.len()), (&b"ab"[..], 0));
        let mut buf = [0u8; 10];
        let r = b.recv(&mut buf, libc::MSG_PEEK, false).unwrap();
        assert_eq!((r.n, r.rights.len()), (2, 1));
        drop(r);
        let (d, r) = recv_all(&b, 10).unwrap();
        assert_eq!((d.as_slice(), r.rights.len()), (&b"cd"[..], 1));
        drop(r);
        assert_eq!(Rc::strong_count(&f), 1);
        assert_eq!(recv_all(&b, 10).unwrap().0, b"ef");
    }

    #[test]
    fn passcred_reports_sender() {
        let (a, b) = Endpoint::pair(Kind::Dgram, cred(1));
        b.st.borrow_mut().passcred = true;
        a.send(None, b"x", vec![], cred(42), false).unwrap();
        let (_, r) = recv_all(&b, 10).unwrap();
        assert_eq!(r.creds, Some(cred(42)));
    }

    #[test]
    fn closing_socket_queued_in_its_own_peer_does_not_panic() {
        // a's only file is queued in b, and b's peer is a: dropping b drops a inside b's drop.
        let (a, b) = Endpoint::pair(Kind::Stream, cred(1));
        let fa = OpenFile::new(
            libc::O_RDWR as u32,
            None,
            b"a".to_vec(),
            Box::new(UnixSocket::new(a, 0, 0)),
        );
        let a2 = match super::super::sock_of(&fa) {
            Ok(super::super::Sock::Unix(u)) => u.ep.clone(),
            _ => unreachable!(),
        };
        a2.send(None, b"x", vec![fa], cred(1), false).unwrap();
        drop(a2);
        drop(b);
    }
}
