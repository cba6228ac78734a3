//! pidfd: a file that names one process (pidfd_open, pidfd_send_signal, waitid(P_PIDFD)).
//! It becomes readable (POLLIN) once the process has exited.

use crate::kernel::Pid;
use crate::vfs::file::{OpenFile, POLLIN, POLLRDNORM};
use crate::vfs::FileOps;
use std::any::Any;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

thread_local! {
    /// "Has exited" flags of live processes that some pidfd names; dropped at exit, so a
    /// later process that reuses the pid is not confused with the one a pidfd names.
    static LIVE: RefCell<HashMap<Pid, Rc<Cell<bool>>>> = RefCell::new(HashMap::new());
}

#[derive(Debug)]
pub struct PidFd {
    pub pid: Pid,
    exited: Rc<Cell<bool>>,
}

impl PidFd {
    /// A pidfd for process `pid`; `zombie` says it has already exited.
    pub fn new(pid: Pid, zombie: bool) -> PidFd {
        let exited = if zombie {
            Rc::new(Cell::new(true))
        } else {
            LIVE.with(|l| l.borrow_mut().entry(pid).or_default().clone())
        };
        PidFd { pid, exited }
    }

    pub fn of(f: &OpenFile) -> Option<&PidFd> {
        f.ops.as_any().downcast_ref::<PidFd>()
    }

    /// The process exited: it may still be a zombie, but signals no longer reach it.
    pub fn exited(&self) -> bool {
        self.exited.get()
    }
}

/// Called when a process exits (becomes a zombie).
pub fn process_exited(pid: Pid) {
    if let Some(f) = LIVE.with(|l| l.borrow_mut().remove(&pid)) {
        f.set(true);
    }
}

impl FileOps for PidFd {
    fn poll(&self) -> u32 {
        if self.exited.get() {
            POLLIN | POLLRDNORM
        } else {
            0
        }
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_marks_only_that_process() {
        let a = PidFd::new(4242, false);
        let b = PidFd::new(4243, false);
        assert_eq!(a.poll(), 0);
        process_exited(4242);
        assert!(a.exited() && !b.exited());
        // A new process reusing the pid is a different one.
        let c = PidFd::new(4242, false);
        assert!(!c.exited());
        assert!(PidFd::new(7, true).exited());
    }
}
