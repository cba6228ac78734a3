//! System V IPC objects (shared memory, semaphores, message queues) of the sandbox's IPC
//! namespace. Shared memory segments live in windows of the sandbox memory file.

use super::{Pid, Tid};
use crate::mm::memfile::Window;
use std::collections::{HashMap, VecDeque};

/// `shm_perm.mode` bit of a segment removed while still attached.
pub const SHM_DEST: u32 = 0o1000;
/// Largest semaphore value (and semadj magnitude).
pub const SEMVMX: i32 = 32767;

#[derive(Debug, Clone, Copy)]
pub struct IpcPerm {
    pub key: i32,
    pub uid: u32,
    pub gid: u32,
    pub cuid: u32,
    pub cgid: u32,
    pub mode: u32,
}

impl IpcPerm {
    /// Serialises as `struct ipc64_perm` (48 bytes).
    pub fn to_bytes(&self, seq: u16) -> [u8; 48] {
        let mut b = [0u8; 48];
        b[0..4].copy_from_slice(&self.key.to_le_bytes());
        b[4..8].copy_from_slice(&self.uid.to_le_bytes());
        b[8..12].copy_from_slice(&self.gid.to_le_bytes());
        b[12..16].copy_from_slice(&self.cuid.to_le_bytes());
        b[16..20].copy_from_slice(&self.cgid.to_le_bytes());
        b[20..22].copy_from_slice(&(self.mode as u16).to_le_bytes());
        b[24..26].copy_from_slice(&seq.to_le_bytes());
        b
    }
}

#[derive(Debug)]
pub struct Shm {
    pub perm: IpcPerm,
    pub size: u64,
    pub window: Window,
    pub nattch: u64,
    pub removed: bool,
    pub cpid: i32,
    pub lpid: i32,
    pub atime: i64,
    pub dtime: i64,
    pub ctime: i64,
}

#[derive(Debug)]
pub struct SemSet {
    pub perm: IpcPerm,
    pub vals: Vec<u16>,
    pub pids: Vec<i32>,
    pub otime: i64,
    pub ctime: i64,
}

#[derive(Debug)]
pub struct MsgQueue {
    pub perm: IpcPerm,
    pub msgs: VecDeque<(i64, Vec<u8>)>,
    pub qbytes: u64,
    pub lspid: i32,
    pub lrpid: i32,
    pub stime: i64,
    pub rtime: i64,
    pub ctime: i64,
}

impl MsgQueue {
    pub fn bytes(&self) -> u64 {
        self.msgs.iter().map(|m| m.1.len() as u64).sum()
    }
}

/// What a task blocked in semop/semtimedop/msgsnd/msgrcv waits on: GETNCNT/GETZCNT count
/// these, and a waiter whose object is removed fails with EIDRM (a new call gets EINVAL).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpcWait {
    /// The semaphore of the first operation that could not proceed; `zero` for a
    /// wait-for-zero.
    Sem {
        id: i32,
        num: u16,
        zero: bool,
    },
    Msg {
        id: i32,
    },
}

impl IpcWait {
    pub fn id(&self) -> i32 {
        match *self {
            IpcWait::Sem { id, .. } | IpcWait::Msg { id } => id,
        }
    }
}

#[derive(Debug, Default)]
pub struct Ipc {
    pub shm: HashMap<i32, Shm>,
    pub sem: HashMap<i32, SemSet>,
    pub msg: HashMap<i32, MsgQueue>,
    /// Attached segments: (stub process, address) -> (shmid, size).
    pub attached: HashMap<(i32, u64), (i32, u64)>,
    pub next_id: i32,
    /// Blocked semop/msgsnd/msgrcv callers (entries of tasks that are no longer blocked
    /// there are ignored, and dropped at their next IPC call).
    pub waits: HashMap<Tid, IpcWait>,
    /// SEM_UNDO adjustments per process: (semid, semnum) -> value added back at exit.
    pub undo: HashMap<Pid, HashMap<(i32, u16), i32>>,
}

impl Ipc {
    pub fn alloc_id(&mut self) -> i32 {
        self.next_id += 1;
        self.next_id
    }

    /// One attachment of segment `id` ended.
    pub fn shm_detached(&mut self, id: i32, pid: Pid, now: i64) {
        if let Some(s) = self.shm.get_mut(&id) {
            s.nattch = s.nattch.saturating_sub(1);
            s.lpid = pid;
            s.dtime = now;
            if s.removed && s.nattch == 0 {
                self.shm.remove(&id);
            }
        }
    }

    /// A forked address space inherits its parent's attachments.
    pub fn fork_attachments(&mut self, parent_stub: i32, child_stub: i32) {
        let inherited: Vec<(u64, (i32, u64))> = self
            .attached
            .iter()
            .filter(|((stub, _), _)| *stub == parent_stub)
            .map(|((_, addr), v)| (*addr, *v))
            .collect();
        for (addr, (id, len)) in inherited {
            self.attached.insert((child_stub, addr), (id, len));
            if let Some(s) = self.shm.get_mut(&id) {
                s.nattch += 1;
            }
        }
    }

    /// An address space went away (exit, exec): its attachments end.
    pub fn drop_attachments(&mut self, stub: i32, pid: Pid, now: i64) {
        let gone: Vec<(u64, i32)> = self
            .attached
            .iter()
            .filter(|((s, _), _)| *s == stub)
            .map(|((_, addr), (id, _))| (*addr, *id))
            .collect();
        for (addr, id) in gone {
            self.attached.remove(&(stub, addr));
            self.shm_detached(id, pid, now);
        }
    }

    /// Applies a process's SEM_UNDO adjustments (at its exit). True if a value changed.
    pub fn exit_sem(&mut self, pid: Pid) -> bool {
        let Some(undo) = self.undo.remove(&pid) else {
            return false;
        };
        let mut changed = false;
        for ((id, num), adj) in undo {
            if adj == 0 {
                continue;
            }
            let Some(set) = self.sem.get_mut(&id) else {
                continue;
            };
            if let Some(v) = set.vals.get_mut(num as usize) {
                *v = (*v as i32 + adj).clamp(0, SEMVMX) as u16;
                set.pids[num as usize] = pid;
                changed = true;
            }
        }
        changed
    }

    /// SETVAL/SETALL (`num` None) reset every process's adjustments of those semaphores.
    pub fn clear_undo(&mut self, id: i32, num: Option<u16>) {
        for u in self.undo.values_mut() {
            u.retain(|&(i, n), _| i != id || num.is_some_and(|x| x != n));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(vals: &[u16]) -> SemSet {
        SemSet {
            perm: IpcPerm {
                key: 0,
                uid: 0,
                gid: 0,
                cuid: 0,
                cgid: 0,
                mode: 0o600,
            },
            vals: vals.to_vec(),
            pids: vec![0; vals.len()],
            otime: 0,
            ctime: 0,
        }
    }

    #[test]
    fn sem_undo_at_exit_clamps_and_clears() {
        let mut ipc = Ipc::default();
        ipc.sem.insert(1, set(&[13, 2]));
        ipc.undo
            .insert(7, HashMap::from([((1, 0), -10), ((1, 1), -5), ((9, 0), 3)]));
        assert!(ipc.exit_sem(7));
        assert_eq!(ipc.sem[&1].vals, vec![3, 0]);
        assert_eq!(ipc.sem[&1].pids, vec![7, 7]);
        assert!(!ipc.exit_sem(7));
    }

    #[test]
    fn setval_resets_adjustments() {
        let mut ipc = Ipc::default();
        ipc.undo
            .insert(7, HashMap::from([((1, 0), -1), ((1, 1), -1), ((2, 0), -1)]));
        ipc.clear_undo(1, Some(1));
        assert_eq!(ipc.undo[&7].len(), 2);
        ipc.clear_undo(1, None);
        assert_eq!(ipc.undo[&7].keys().collect::<Vec<_>>(), vec![&(2, 0)]);
    }
}
