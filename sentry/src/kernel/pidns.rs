//! Pid namespaces: a pod's app container gets one of its own, so its init is pid 1 and it
//! sees only its own processes, unless the pod shares one process namespace
//! (`shareProcessNamespace`; the container's spec then joins the sandbox's pid namespace).
//!
//! The kernel keys tasks and processes by one internal id: the namespace's index in the high
//! bits and the pid inside the namespace in the low [`LOCAL_BITS`]. Namespace 0 is the
//! sandbox's own, where the internal id is the pid itself, so a plain container (and the
//! pause container) costs nothing. The workload only ever sees the low bits ([`vpid`]);
//! every pid it passes in is taken in its own namespace ([`Kernel::pid_arg`]).
//!
//! Unlike Linux, the namespaces are siblings: the sandbox's namespace does not see the app
//! containers' processes. Only the pause process lives there, and it looks at nothing; the
//! runtime's view (`moat ps`, `kill --all`) goes by container instead.

use super::{Kernel, Pid, Tid};
use crate::errno::Errno;

/// Index of a pid namespace in the sandbox; 0 is the sandbox's own.
pub type PidNs = u32;

/// Bits of an internal id that hold the pid inside its namespace (Linux's PID_MAX_LIMIT).
pub const LOCAL_BITS: u32 = 22;
const LOCAL_MASK: u32 = (1 << LOCAL_BITS) - 1;
/// Namespaces that fit in the rest of a positive i32.
pub const MAX_NAMESPACES: PidNs = 1 << (31 - LOCAL_BITS);

/// The namespace an internal task or process id lives in.
pub fn ns_of(id: Pid) -> PidNs {
    (id as u32) >> LOCAL_BITS
}

/// The pid (or tid, pgid, sid) the workload sees for internal id `id`: its number inside
/// its own namespace. 0 stays 0.
pub fn vpid(id: Pid) -> i32 {
    ((id as u32) & LOCAL_MASK) as i32
}

/// The internal id of pid `local` in namespace `ns`.
pub fn internal(ns: PidNs, local: i32) -> Pid {
    ((ns << LOCAL_BITS) | (local as u32 & LOCAL_MASK)) as Pid
}

/// Whether `id` is the init of its namespace.
pub fn is_ns_init(id: Pid) -> bool {
    vpid(id) == 1
}

impl Kernel {
    /// `raw`, a positive pid the workload in task `tid` passed, as an internal id in the
    /// caller's namespace. A number no namespace can hold names no process (ESRCH).
    pub fn pid_arg(&self, tid: Tid, raw: i64) -> Result<Pid, Errno> {
        if raw <= 0 || raw > LOCAL_MASK as i64 {
            return Err(Errno::ESRCH);
        }
        Ok(internal(ns_of(tid), raw as i32))
    }

    /// `raw` (positive) as an internal id in the caller's namespace, for lookups where a
    /// bad number simply matches nothing: such numbers give -1, which no task has.
    pub fn id_in_ns(&self, tid: Tid, raw: i32) -> Pid {
        self.pid_arg(tid, raw as i64).unwrap_or(-1)
    }

    /// Like [`Kernel::pid_arg`] for a pid that may be 0 ("the caller"): 0 stays 0.
    pub fn pid_arg_or_self(&self, tid: Tid, raw: i64) -> Result<Pid, Errno> {
        if raw == 0 {
            return Ok(0);
        }
        self.pid_arg(tid, raw)
    }

    /// A namespace index no live process or container uses, for a new app container.
    pub fn alloc_pidns(&self) -> Result<PidNs, Errno> {
        (1..MAX_NAMESPACES)
            .find(|&ns| {
                !self.containers.values().any(|c| c.pidns == ns)
                    && !self.procs.keys().any(|&p| ns_of(p) == ns)
            })
            .ok_or(Errno::EAGAIN)
    }

    /// A free pid in namespace `ns`: numbers count up from 1 (after the end, from 2, as
    /// Linux wraps past pid_max), skipping ids still in use.
    pub fn alloc_pid_in(&mut self, ns: PidNs) -> Result<Pid, Errno> {
        for _ in 0..LOCAL_MASK {
            let next = if ns == 0 {
                &mut self.next_pid
            } else {
                self.next_pid_in.entry(ns).or_insert(1)
            };
            let local = *next;
            *next = if local as u32 >= LOCAL_MASK {
                2
            } else {
                local + 1
            };
            let id = internal(ns, local);
            if !self.procs.contains_key(&id) && !self.tasks.contains_key(&id) {
                return Ok(id);
            }
        }
        Err(Errno::EAGAIN)
    }

    /// Whether the workload in task `tid` can see process or task `id`.
    pub fn same_pidns(&self, tid: Tid, id: Pid) -> bool {
        ns_of(tid) == ns_of(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip() {
        assert_eq!(internal(0, 1), 1);
        assert_eq!(vpid(7), 7);
        let id = internal(3, 1);
        assert_eq!(ns_of(id), 3);
        assert_eq!(vpid(id), 1);
        assert!(is_ns_init(id));
        assert!(id > 0);
        let last = internal(MAX_NAMESPACES - 1, LOCAL_MASK as i32);
        assert!(last > 0);
        assert_eq!(ns_of(last), MAX_NAMESPACES - 1);
        assert_eq!(vpid(0), 0);
    }
}
