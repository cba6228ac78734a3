//! System V IPC objects (shared memory, semaphores, message queues) of the sandbox's IPC
//! namespace. Shared memory segments live in windows of the sandbox memory file.

use crate::mm::memfile::Window;
use std::collections::{HashMap, VecDeque};

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

#[derive(Debug, Default)]
pub struct Ipc {
    pub shm: HashMap<i32, Shm>,
    pub sem: HashMap<i32, SemSet>,
    pub msg: HashMap<i32, MsgQueue>,
    /// Attached segments: (stub process, address) -> (shmid, size).
    pub attached: HashMap<(i32, u64), (i32, u64)>,
    pub next_id: i32,
}

impl Ipc {
    pub fn alloc_id(&mut self) -> i32 {
        self.next_id += 1;
        self.next_id
    }
}
