//! Filesystem implementations behind the VFS.

pub mod devfs;
pub mod epoll;
pub mod eventfd;
pub mod hostfd;
pub mod hostops;
pub mod inotify;
pub mod memfd;
pub mod overlay;
pub mod pidfd;
pub mod pipe;
pub mod procfs;
pub mod quota;
pub mod regular;
pub mod signalfd;
pub mod timerfd;

/// Device numbers the sentry reports for its filesystems.
pub const DEV_ROOT: u64 = 0x2a;
pub const DEV_TMPFS: u64 = 0x2b;
pub const DEV_PROC: u64 = 0x2c;
pub const DEV_DEVFS: u64 = 0x2d;
pub const DEV_PIPE: u64 = 0x2e;
pub const DEV_SYSFS: u64 = 0x2f;
