//! The containers of a pod inside one sandbox.
//!
//! The container the sentry booted with (a Kubernetes pod's sandbox, or pause, container; or
//! a plain single container) is container 0. A pod's app containers are added to the running
//! sentry (`moat create` finds the pod's sandbox from containerd's CRI annotations). Each has
//! its own root file system and mounts, its own init and exit status, its own seccomp profile
//! and stdio; it shares with the rest of the pod what Kubernetes shares: the network (the
//! sentry's sockets live in one network namespace), System V IPC and POSIX shared memory (one
//! `ipc` table, one /dev/shm tree), the hostname, and bind-mounted volumes, which are one
//! inode tree per host directory so that writes and MAP_SHARED pages are coherent at once.
//!
//! Each app container has a pid namespace of its own (its init is pid 1), or shares the
//! sandbox's when the pod shares its process namespace (pidns.rs).

use super::{Kernel, Pid, WaitStatus};
use crate::errno::Errno;
use crate::syscalls::seccomp::SeccompProfile;
use crate::vfs::inode::Inode;
use std::os::fd::{AsRawFd, OwnedFd};
use std::rc::{Rc, Weak};

pub use crate::vfs::mounts::MountEntry;

/// Index of a container in its sandbox; 0 is the one the sandbox booted with.
pub type ContainerId = u32;

/// The sandbox's own container.
pub const SANDBOX_CONTAINER: ContainerId = 0;

/// An app container added to the sandbox.
#[derive(Debug)]
pub struct Container {
    /// The container's id as the runtime knows it (the OCI id).
    pub name: String,
    /// Its init process: the container ends when it exits.
    pub init: Pid,
    /// Loaded but not started yet (`create` before `start`).
    pub held: bool,
    pub root: Rc<Inode>,
    pub mounts: Vec<MountEntry>,
    pub seccomp: Option<Rc<SeccompProfile>>,
    pub rlimits: [(u64, u64); 16],
    pub umask: u32,
    /// Its pid namespace (pidns.rs): its own, or the sandbox's (0) when the pod shares one.
    pub pidns: super::pidns::PidNs,
}

impl Kernel {
    /// The container (other than the sandbox's own) named `name`.
    pub fn container_by_name(&self, name: &str) -> Option<ContainerId> {
        self.containers
            .iter()
            .find(|(_, c)| c.name == name)
            .map(|(&id, _)| id)
    }

    /// The container process `pid` belongs to.
    pub fn container_of(&self, pid: Pid) -> ContainerId {
        self.procs
            .get(&pid)
            .map_or(SANDBOX_CONTAINER, |p| p.container)
    }

    /// Live processes of container `cid`.
    pub fn container_processes(&self, cid: ContainerId) -> Vec<Pid> {
        let mut v: Vec<Pid> = self
            .procs
            .values()
            .filter(|p| p.container == cid && p.zombie.is_none())
            .map(|p| p.pid)
            .collect();
        v.sort_unstable();
        v
    }

    /// The mount table of the container process `pid` is in.
    pub fn mounts_of(&self, pid: Pid) -> &[MountEntry] {
        match self.containers.get(&self.container_of(pid)) {
            Some(c) => &c.mounts,
            None => &self.mounts,
        }
    }

    /// The seccomp profile for process `pid`'s syscalls.
    pub fn seccomp_of(&self, pid: Pid) -> Option<&SeccompProfile> {
        match self.containers.get(&self.container_of(pid)) {
            Some(c) => c.seccomp.as_deref(),
            None => self.seccomp.as_ref(),
        }
    }

    /// Whether any container has a seccomp profile (the syscall fast path skips the check
    /// otherwise).
    pub fn any_seccomp(&self) -> bool {
        self.seccomp.is_some() || self.containers.values().any(|c| c.seccomp.is_some())
    }

    /// Called when process `pid` has exited: if it was an app container's init, the rest of
    /// that container dies with it (as a pid namespace does) and the container is gone.
    pub(crate) fn container_init_exited(&mut self, pid: Pid) {
        let Some((&cid, _)) = self.containers.iter().find(|(_, c)| c.init == pid) else {
            return;
        };
        let gone = self.containers.remove(&cid);
        self.proc_policies.remove(&cid);
        for other in self.container_processes(cid) {
            if other != pid {
                self.kill_group(other, WaitStatus::signaled(libc::SIGKILL, false));
            }
        }
        drop(gone);
        crate::fs::overlay::forget_host_fds();
        self.refresh_seccomp_flag();
    }

    pub(crate) fn refresh_seccomp_flag(&mut self) {
        self.seccomp_any = self.any_seccomp();
    }

    /// The sentry's tree for a bind-mounted host directory. Every container that mounts the
    /// same host directory (a pod's /dev/shm, an emptyDir) gets the same tree, so what one
    /// writes or maps MAP_SHARED the others see at once.
    pub(crate) fn shared_bind_dir(
        &mut self,
        source: OwnedFd,
        readonly: bool,
    ) -> Result<Rc<Inode>, Errno> {
        // SAFETY: st is a valid out buffer for fstat on our own fd.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: see above.
        if unsafe { libc::fstat(source.as_raw_fd(), &mut st) } != 0 {
            return Err(Errno::last());
        }
        let key = (st.st_dev, st.st_ino, readonly);
        self.shared_dirs.retain(|_, w| w.strong_count() > 0);
        if let Some(node) = self.shared_dirs.get(&key).and_then(Weak::upgrade) {
            return Ok(node);
        }
        let node = crate::fs::overlay::new_root(source, readonly, true, crate::boot::next_dev())?;
        self.shared_dirs.insert(key, Rc::downgrade(&node));
        Ok(node)
    }

    /// Records that directory `node` is mounted in the tree of `root`: a tree shared by
    /// several containers has one parent per container, and ".." must climb into the
    /// caller's own.
    pub(crate) fn note_mount_parent(&mut self, root: &Rc<Inode>, node: &Rc<Inode>) {
        let parent = node.parent.borrow().clone();
        let list = self.mount_parents.entry(node.ino).or_default();
        list.retain(|(r, _)| r.strong_count() > 0 && !r.ptr_eq(&Rc::downgrade(root)));
        list.push((Rc::downgrade(root), parent));
    }

    /// The parent of directory `dir` as seen from the tree of `root`.
    pub fn parent_in(&self, root: &Rc<Inode>, dir: &Rc<Inode>) -> Rc<Inode> {
        if let Some(list) = self.mount_parents.get(&dir.ino) {
            if let Some(p) = list
                .iter()
                .find(|(r, _)| std::ptr::eq(r.as_ptr(), Rc::as_ptr(root)))
                .and_then(|(_, p)| p.upgrade())
            {
                return p;
            }
        }
        dir.parent_dir()
    }
}
