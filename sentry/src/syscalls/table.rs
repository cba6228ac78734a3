//! The syscall table. Anything not listed here returns ENOSYS (logged once per sandbox).

use super::{
    anonfd, epoll, file, fs, futex, ipc, misc, mm, net, process, signal, time, xattr, Handler,
    Support, SyscallDef,
};
use std::sync::OnceLock;

use Support::*;

macro_rules! table {
    ($(($nr:ident, $h:path, $s:expr, $note:expr)),* $(,)?) => {
        pub static TABLE: &[SyscallDef] = &[
            $(SyscallDef { nr: libc::$nr as u64, handler: $h as Handler, support: $s, note: $note }),*
        ];
    };
}

#[rustfmt::skip]
table![
    // file.rs: fd-based I/O
    (SYS_read, file::sys_read, Full, ""),
    (SYS_write, file::sys_write, Full, ""),
    (SYS_pread64, file::sys_pread64, Full, ""),
    (SYS_pwrite64, file::sys_pwrite64, Full, ""),
    (SYS_readv, file::sys_readv, Full, ""),
    (SYS_writev, file::sys_writev, Full, ""),
    (SYS_preadv, file::sys_preadv, Full, ""),
    (SYS_pwritev, file::sys_pwritev, Full, ""),
    (SYS_preadv2, file::sys_preadv2, Full, ""),
    (SYS_pwritev2, file::sys_pwritev2, Full, ""),
    (SYS_lseek, file::sys_lseek, Full, ""),
    (SYS_close, file::sys_close, Full, ""),
    (SYS_close_range, file::sys_close_range, Full, ""),
    (SYS_dup, file::sys_dup, Full, ""),
    (SYS_dup2, file::sys_dup2, Full, ""),
    (SYS_dup3, file::sys_dup3, Full, ""),
    (
        SYS_fcntl,
        file::sys_fcntl,
        Partial,
        "locks are kept in the sentry: host processes outside the sandbox do not see them"
    ),
    (SYS_flock, file::sys_flock, Partial, "locks belong to the open file description and are kept in the sentry: host processes outside the sandbox do not see them"),
    (
        SYS_ioctl,
        file::sys_ioctl,
        Partial,
        "FIONBIO, FIOCLEX, FIONREAD, terminal ioctls on host ttys"
    ),
    (SYS_pipe, file::sys_pipe, Full, ""),
    (SYS_pipe2, file::sys_pipe2, Full, ""),
    (SYS_fstat, file::sys_fstat, Full, ""),
    (SYS_getdents64, file::sys_getdents64, Full, ""),
    (SYS_getdents, file::sys_getdents, Full, ""),
    (
        SYS_restart_syscall,
        misc::sys_restart_syscall,
        Full,
        "EINTR: interrupted calls are restarted by the sentry itself"
    ),
    (SYS_readahead, file::sys_readahead, Full, "a hint: validated, nothing to do"),
    (
        SYS_sync_file_range,
        file::sys_sync_file_range,
        Full,
        "validated; data reaches host files on write"
    ),
    (SYS_ftruncate, file::sys_ftruncate, Full, ""),
    (
        SYS_fsync,
        file::sys_fsync,
        Full,
        "sandbox memory needs no sync"
    ),
    (SYS_fdatasync, file::sys_fsync, Full, ""),
    (SYS_syncfs, file::sys_syncfs, Full, ""),
    (SYS_sendfile, file::sys_sendfile, Full, ""),
    (SYS_copy_file_range, file::sys_copy_file_range, Full, ""),
    (SYS_splice, file::sys_splice, Full, "data passes through the sentry"),
    (SYS_tee, file::sys_tee, Full, ""),
    (SYS_fadvise64, file::sys_fadvise, Full, "advice ignored"),
    // fs.rs: paths
    (SYS_open, fs::sys_open, Full, ""),
    (SYS_openat, fs::sys_openat, Full, ""),
    (
        SYS_openat2,
        fs::sys_openat2,
        Partial,
        "resolve flags ignored"
    ),
    (SYS_creat, fs::sys_creat, Full, ""),
    (SYS_stat, fs::sys_stat, Full, ""),
    (SYS_lstat, fs::sys_lstat, Full, ""),
    (SYS_newfstatat, fs::sys_newfstatat, Full, ""),
    (SYS_statx, fs::sys_statx, Full, ""),
    (SYS_access, fs::sys_access, Full, ""),
    (SYS_faccessat, fs::sys_faccessat, Full, ""),
    (SYS_faccessat2, fs::sys_faccessat2, Full, ""),
    (SYS_mkdir, fs::sys_mkdir, Full, ""),
    (SYS_mkdirat, fs::sys_mkdirat, Full, ""),
    (SYS_unlink, fs::sys_unlink, Full, ""),
    (SYS_unlinkat, fs::sys_unlinkat, Full, ""),
    (SYS_rmdir, fs::sys_rmdir, Full, ""),
    (SYS_rename, fs::sys_rename, Full, ""),
    (SYS_renameat, fs::sys_renameat, Full, ""),
    (SYS_renameat2, fs::sys_renameat2, Full, ""),
    (SYS_link, fs::sys_link, Full, ""),
    (SYS_linkat, fs::sys_linkat, Full, ""),
    (SYS_symlink, fs::sys_symlink, Full, ""),
    (SYS_symlinkat, fs::sys_symlinkat, Full, ""),
    (SYS_readlink, fs::sys_readlink, Full, ""),
    (SYS_readlinkat, fs::sys_readlinkat, Full, ""),
    (SYS_chmod, fs::sys_chmod, Full, ""),
    (SYS_fchmod, fs::sys_fchmod, Full, ""),
    (SYS_fchmodat, fs::sys_fchmodat, Full, ""),
    (SYS_chown, fs::sys_chown, Full, ""),
    (SYS_fchown, fs::sys_fchown, Full, ""),
    (SYS_lchown, fs::sys_lchown, Full, ""),
    (SYS_fchownat, fs::sys_fchownat, Full, ""),
    (SYS_utimensat, fs::sys_utimensat, Full, ""),
    (SYS_utimes, fs::sys_utimes, Full, ""),
    (SYS_utime, fs::sys_utime, Full, ""),
    (SYS_futimesat, fs::sys_futimesat, Full, ""),
    (SYS_chdir, fs::sys_chdir, Full, ""),
    (SYS_fchdir, fs::sys_fchdir, Full, ""),
    (SYS_getcwd, fs::sys_getcwd, Full, ""),
    (SYS_truncate, fs::sys_truncate, Full, ""),
    (
        SYS_mknod,
        fs::sys_mknod,
        Partial,
        "regular files, FIFOs, sockets and sentry devices"
    ),
    (
        SYS_mknodat,
        fs::sys_mknodat,
        Partial,
        "regular files, FIFOs, sockets and sentry devices"
    ),
    (SYS_umask, fs::sys_umask, Full, ""),
    (SYS_statfs, fs::sys_statfs, Full, ""),
    (SYS_fstatfs, fs::sys_fstatfs, Full, ""),
    (SYS_chroot, fs::sys_chroot, Full, ""),
    (SYS_sync, misc::sys_ok, Full, ""),
    // mm.rs
    (SYS_brk, mm::sys_brk, Full, ""),
    (
        SYS_mmap,
        mm::sys_mmap,
        Partial,
        "MAP_SHARED writes to files on write-through mounts (bind, --overlay=none) reach the host file only through write(2); pages past EOF raise SIGBUS, but pages of a file shrunk while another process mapping it runs application code stay readable there (zeros)"
    ),
    (SYS_munmap, mm::sys_munmap, Full, ""),
    (SYS_mprotect, mm::sys_mprotect, Full, ""),
    (SYS_mremap, mm::sys_mremap, Full, ""),
    (
        SYS_madvise,
        mm::sys_madvise,
        Partial,
        "DONTNEED/FREE honoured, hints ignored"
    ),
    (
        SYS_msync,
        mm::sys_msync,
        Partial,
        "no write-back of shared file maps"
    ),
    (SYS_mlock, mm::sys_mlock, Partial, "no-op"),
    (SYS_mlock2, mm::sys_mlock2, Partial, "no-op"),
    (
        SYS_mincore,
        mm::sys_mincore,
        Partial,
        "every mapped page reads as resident"
    ),
    (SYS_munlock, mm::sys_mlock, Partial, "no-op"),
    (SYS_mlockall, mm::sys_mlock, Partial, "no-op"),
    (SYS_munlockall, mm::sys_mlock, Partial, "no-op"),
    // process.rs
    (SYS_fork, process::sys_fork, Full, ""),
    (
        SYS_vfork,
        process::sys_vfork,
        Partial,
        "memory is copied; parent waits for exec/exit"
    ),
    (SYS_clone, process::sys_clone, Full, "no new namespaces"),
    (SYS_clone3, process::sys_clone3, Full, "no new namespaces, no pidfd"),
    (SYS_futex, futex::sys_futex, Partial, "WAKE_OP and PI ops are not atomic against running threads"),
    (SYS_execve, process::sys_execve, Full, ""),
    (SYS_execveat, process::sys_execveat, Full, ""),
    (SYS_exit, process::sys_exit, Full, ""),
    (SYS_exit_group, process::sys_exit_group, Full, ""),
    (SYS_wait4, process::sys_wait4, Full, ""),
    (SYS_waitid, process::sys_waitid, Full, ""),
    (SYS_getpid, process::sys_getpid, Full, ""),
    (SYS_gettid, process::sys_gettid, Full, ""),
    (SYS_getppid, process::sys_getppid, Full, ""),
    (SYS_getpgid, process::sys_getpgid, Full, ""),
    (SYS_getpgrp, process::sys_getpgrp, Full, ""),
    (SYS_getsid, process::sys_getsid, Full, ""),
    (SYS_setpgid, process::sys_setpgid, Full, ""),
    (SYS_setsid, process::sys_setsid, Full, ""),
    (SYS_set_tid_address, process::sys_set_tid_address, Full, ""),
    (SYS_set_robust_list, process::sys_set_robust_list, Full, ""),
    (SYS_get_robust_list, process::sys_get_robust_list, Full, ""),
    (SYS_arch_prctl, process::sys_arch_prctl, Full, ""),
    (SYS_prctl, process::sys_prctl, Partial, "common options"),
    (SYS_prlimit64, process::sys_prlimit64, Full, ""),
    (SYS_getrlimit, process::sys_getrlimit, Full, ""),
    (SYS_setrlimit, process::sys_setrlimit, Full, ""),
    (
        SYS_getrusage,
        process::sys_getrusage,
        Partial,
        "coarse times"
    ),
    (SYS_times, process::sys_times, Partial, "coarse times"),
    (SYS_getuid, process::sys_getuid, Full, ""),
    (SYS_geteuid, process::sys_geteuid, Full, ""),
    (SYS_getgid, process::sys_getgid, Full, ""),
    (SYS_getegid, process::sys_getegid, Full, ""),
    (SYS_getresuid, process::sys_getresuid, Full, ""),
    (SYS_getresgid, process::sys_getresgid, Full, ""),
    (SYS_setuid, process::sys_setuid, Full, ""),
    (SYS_setgid, process::sys_setgid, Full, ""),
    (SYS_setreuid, process::sys_setreuid, Full, ""),
    (SYS_setregid, process::sys_setregid, Full, ""),
    (SYS_setresuid, process::sys_setresuid, Full, ""),
    (SYS_setresgid, process::sys_setresgid, Full, ""),
    (SYS_setfsuid, process::sys_setfsuid, Full, ""),
    (SYS_setfsgid, process::sys_setfsgid, Full, ""),
    (SYS_getgroups, process::sys_getgroups, Full, ""),
    (SYS_setgroups, process::sys_setgroups, Full, ""),
    (SYS_capget, process::sys_capget, Full, ""),
    (SYS_capset, process::sys_capset, Full, ""),
    // signal.rs
    (SYS_rt_sigaction, signal::sys_rt_sigaction, Full, ""),
    (SYS_rt_sigprocmask, signal::sys_rt_sigprocmask, Full, ""),
    (SYS_rt_sigreturn, signal::sys_rt_sigreturn, Full, ""),
    (SYS_rt_sigpending, signal::sys_rt_sigpending, Full, ""),
    (SYS_rt_sigsuspend, signal::sys_rt_sigsuspend, Full, ""),
    (SYS_rt_sigtimedwait, signal::sys_rt_sigtimedwait, Full, ""),
    (SYS_rt_sigqueueinfo, signal::sys_rt_sigqueueinfo, Full, ""),
    (SYS_rt_tgsigqueueinfo, signal::sys_rt_tgsigqueueinfo, Full, ""),
    (SYS_pause, signal::sys_pause, Full, ""),
    (SYS_kill, signal::sys_kill, Full, ""),
    (SYS_tkill, signal::sys_tkill, Full, ""),
    (SYS_tgkill, signal::sys_tgkill, Full, ""),
    (SYS_pidfd_open, signal::sys_pidfd_open, Full, "readable once the process exits"),
    (SYS_pidfd_send_signal, signal::sys_pidfd_send_signal, Full, ""),
    (SYS_sigaltstack, signal::sys_sigaltstack, Full, ""),
    // time.rs
    (
        SYS_clock_gettime,
        time::sys_clock_gettime,
        Full,
        "glibc calls the host vDSO (no trap) for the wall and monotonic clocks; CPU clocks trap"
    ),
    (SYS_clock_getres, time::sys_clock_getres, Full, ""),
    (SYS_gettimeofday, time::sys_gettimeofday, Full, ""),
    (SYS_time, time::sys_time, Full, ""),
    (SYS_nanosleep, time::sys_nanosleep, Full, ""),
    (SYS_clock_nanosleep, time::sys_clock_nanosleep, Full, ""),
    (SYS_alarm, time::sys_alarm, Full, ""),
    // time.rs: interval timers and POSIX timers (state in kernel/timers.rs)
    (SYS_getitimer, time::sys_getitimer, Partial, "ITIMER_VIRTUAL/PROF count real time"),
    (SYS_setitimer, time::sys_setitimer, Partial, "ITIMER_VIRTUAL/PROF count real time"),
    (SYS_timer_create, time::sys_timer_create, Partial, "SIGEV_SIGNAL/THREAD_ID/NONE; CPU-time clocks count real time"),
    (SYS_timer_settime, time::sys_timer_settime, Full, ""),
    (SYS_timer_gettime, time::sys_timer_gettime, Full, ""),
    (SYS_timer_getoverrun, time::sys_timer_getoverrun, Full, ""),
    (SYS_timer_delete, time::sys_timer_delete, Full, ""),
    // epoll.rs (instances in fs/epoll.rs)
    (SYS_epoll_create, epoll::sys_epoll_create, Full, ""),
    (SYS_epoll_create1, epoll::sys_epoll_create1, Full, ""),
    (SYS_epoll_ctl, epoll::sys_epoll_ctl, Full, "EPOLLEXCLUSIVE accepted, all waiters wake"),
    (SYS_epoll_wait, epoll::sys_epoll_wait, Full, ""),
    (SYS_epoll_pwait, epoll::sys_epoll_pwait, Full, ""),
    (SYS_epoll_pwait2, epoll::sys_epoll_pwait2, Full, ""),
    // net.rs (sockets in crate::net: AF_UNIX in the sentry, AF_INET/AF_INET6 as sentry-owned host sockets)
    (SYS_socket, net::sys_socket, Partial, "AF_UNIX, AF_INET, AF_INET6 (TCP, UDP, ICMP ping), read-only NETLINK_ROUTE; no packet or raw sockets"),
    (SYS_socketpair, net::sys_socketpair, Full, "AF_UNIX"),
    (SYS_bind, net::sys_bind, Full, "unix: path, abstract and autobind names"),
    (SYS_listen, net::sys_listen, Full, ""),
    (SYS_accept, net::sys_accept, Full, ""),
    (SYS_accept4, net::sys_accept4, Full, ""),
    (SYS_connect, net::sys_connect, Full, ""),
    (SYS_getsockname, net::sys_getsockname, Full, ""),
    (SYS_getpeername, net::sys_getpeername, Full, ""),
    (SYS_sendto, net::sys_sendto, Full, ""),
    (SYS_recvfrom, net::sys_recvfrom, Full, ""),
    (SYS_sendmsg, net::sys_sendmsg, Partial, "unix: SCM_RIGHTS, SCM_CREDENTIALS; inet: IP-level control messages"),
    (SYS_recvmsg, net::sys_recvmsg, Full, ""),
    (SYS_sendmmsg, net::sys_sendmmsg, Full, ""),
    (SYS_recvmmsg, net::sys_recvmmsg, Partial, "waits for the first message only (as MSG_WAITFORONE); timeout ignored"),
    (SYS_shutdown, net::sys_shutdown, Full, ""),
    (SYS_setsockopt, net::sys_setsockopt, Partial, "allow-listed options; SO_RCVTIMEO/SO_SNDTIMEO emulated"),
    (SYS_getsockopt, net::sys_getsockopt, Partial, "allow-listed options"),
    // anonfd.rs: eventfd, timerfd, signalfd, memfd, inotify (objects in fs/eventfd.rs, fs/timerfd.rs, fs/signalfd.rs, fs/memfd.rs, fs/inotify.rs)
    (SYS_eventfd, anonfd::sys_eventfd, Full, ""),
    (SYS_eventfd2, anonfd::sys_eventfd2, Full, ""),
    (SYS_timerfd_create, anonfd::sys_timerfd_create, Partial, "clock changes never cancel (TFD_TIMER_CANCEL_ON_SET)"),
    (SYS_timerfd_settime, anonfd::sys_timerfd_settime, Full, ""),
    (SYS_timerfd_gettime, anonfd::sys_timerfd_gettime, Full, ""),
    (SYS_signalfd, anonfd::sys_signalfd, Full, ""),
    (SYS_signalfd4, anonfd::sys_signalfd4, Full, ""),
    (SYS_memfd_create, anonfd::sys_memfd_create, Partial, "seals bind the memfd's own file description; MFD_HUGETLB gets normal pages"),
    (SYS_inotify_init, anonfd::sys_inotify_init, Partial, "changes made inside the sandbox only"),
    (SYS_inotify_init1, anonfd::sys_inotify_init1, Partial, "changes made inside the sandbox only"),
    (SYS_inotify_add_watch, anonfd::sys_inotify_add_watch, Full, ""),
    (SYS_inotify_rm_watch, anonfd::sys_inotify_rm_watch, Full, ""),
    // ipc.rs
    (SYS_shmget, ipc::sys_shmget, Full, "segments live in the sandbox memory file"),
    (SYS_shmat, ipc::sys_shmat, Full, ""),
    (SYS_shmdt, ipc::sys_shmdt, Full, ""),
    (SYS_shmctl, ipc::sys_shmctl, Full, "SHM_LOCK/UNLOCK are no-ops; *_STAT index = id"),
    (SYS_semget, ipc::sys_semget, Full, ""),
    (SYS_semop, ipc::sys_semop, Full, ""),
    (SYS_semtimedop, ipc::sys_semtimedop, Full, ""),
    (SYS_semctl, ipc::sys_semctl, Full, ""),
    (SYS_msgget, ipc::sys_msgget, Full, ""),
    (SYS_msgsnd, ipc::sys_msgsnd, Full, ""),
    (SYS_msgrcv, ipc::sys_msgrcv, Full, ""),
    (SYS_msgctl, ipc::sys_msgctl, Full, ""),
    // xattr.rs
    (SYS_getxattr, xattr::sys_getxattr, Partial, "user.* and trusted.* kept in sentry memory"),
    (SYS_lgetxattr, xattr::sys_lgetxattr, Partial, "user.* and trusted.* kept in sentry memory"),
    (SYS_fgetxattr, xattr::sys_fgetxattr, Partial, "user.* and trusted.* kept in sentry memory"),
    (SYS_setxattr, xattr::sys_setxattr, Partial, "user.* and trusted.* kept in sentry memory"),
    (SYS_lsetxattr, xattr::sys_lsetxattr, Partial, "user.* and trusted.* kept in sentry memory"),
    (SYS_fsetxattr, xattr::sys_fsetxattr, Partial, "user.* and trusted.* kept in sentry memory"),
    (SYS_listxattr, xattr::sys_listxattr, Full, ""),
    (SYS_llistxattr, xattr::sys_llistxattr, Full, ""),
    (SYS_flistxattr, xattr::sys_flistxattr, Full, ""),
    (SYS_removexattr, xattr::sys_removexattr, Full, ""),
    (SYS_lremovexattr, xattr::sys_lremovexattr, Full, ""),
    (SYS_fremovexattr, xattr::sys_fremovexattr, Full, ""),
    (SYS_fallocate, file::sys_fallocate, Partial, "modes 0, KEEP_SIZE, PUNCH_HOLE, ZERO_RANGE"),
    (SYS_rseq, misc::sys_rseq, Refused, "ENOSYS on purpose: libc falls back"),
    (
        SYS_membarrier,
        misc::sys_membarrier,
        Partial,
        "registrations kept; no barrier forced on running threads"
    ),
    // misc.rs
    (SYS_uname, misc::sys_uname, Full, "release is the sentry's"),
    (SYS_sethostname, misc::sys_sethostname, Full, ""),
    (SYS_setdomainname, misc::sys_setdomainname, Full, ""),
    (SYS_getrandom, misc::sys_getrandom, Full, ""),
    (
        SYS_sysinfo,
        misc::sys_sysinfo,
        Partial,
        "synthetic memory figures"
    ),
    (SYS_sched_yield, misc::sys_sched_yield, Full, ""),
    (SYS_sched_getaffinity, misc::sys_sched_getaffinity, Full, ""),
    (
        SYS_sched_setaffinity,
        misc::sys_sched_setaffinity,
        Partial,
        "per-thread mask kept and reported, not enforced"
    ),
    (SYS_sched_getparam, misc::sys_sched_getparam, Full, "priority 0"),
    (
        SYS_sched_rr_get_interval,
        misc::sys_sched_rr_get_interval,
        Full,
        ""
    ),
    (
        SYS_ioprio_get,
        misc::sys_ioprio_get,
        Partial,
        "kept per task, not acted on"
    ),
    (
        SYS_ioprio_set,
        misc::sys_ioprio_set,
        Partial,
        "kept per task, not acted on"
    ),
    (
        SYS_sched_setparam,
        misc::sys_sched_setparam,
        Partial,
        "validated, not enforced"
    ),
    (
        SYS_sched_getscheduler,
        misc::sys_sched_getscheduler,
        Full,
        "SCHED_OTHER"
    ),
    (
        SYS_sched_setscheduler,
        misc::sys_sched_setscheduler,
        Partial,
        "validated, not enforced"
    ),
    (
        SYS_sched_get_priority_max,
        misc::sys_sched_get_priority_max,
        Full,
        ""
    ),
    (
        SYS_sched_get_priority_min,
        misc::sys_sched_get_priority_min,
        Full,
        ""
    ),
    (
        SYS_getpriority,
        misc::sys_getpriority,
        Full,
        "per-thread nice values"
    ),
    (
        SYS_setpriority,
        misc::sys_setpriority,
        Partial,
        "per-thread nice values, checked like Linux; not enforced on scheduling"
    ),
    (
        SYS_personality,
        misc::sys_personality,
        Partial,
        "stored per process and reported; flags not enforced"
    ),
    (SYS_getcpu, misc::sys_getcpu, Partial, "always cpu 0"),
    (SYS_poll, misc::sys_poll, Full, ""),
    (SYS_ppoll, misc::sys_ppoll, Full, ""),
    (SYS_select, misc::sys_select, Full, ""),
    (SYS_pselect6, misc::sys_pselect6, Full, ""),
    (
        SYS_mount,
        misc::sys_eperm,
        Refused,
        "no mounting inside the sandbox"
    ),
    (SYS_umount2, misc::sys_eperm, Refused, ""),
    (SYS_pivot_root, misc::sys_eperm, Refused, ""),
    (SYS_reboot, misc::sys_eperm, Refused, ""),
    (SYS_swapon, misc::sys_eperm, Refused, ""),
    (SYS_swapoff, misc::sys_eperm, Refused, ""),
    (SYS_settimeofday, misc::sys_eperm, Refused, ""),
    (SYS_clock_settime, misc::sys_eperm, Refused, ""),
    (SYS_adjtimex, time::sys_adjtimex, Partial, "reads an undisciplined clock's state (TIME_ERROR); changes EPERM"),
    (SYS_clock_adjtime, time::sys_clock_adjtime, Partial, "CLOCK_REALTIME as adjtimex; other clocks EOPNOTSUPP"),
    (SYS_init_module, misc::sys_eperm, Refused, ""),
    (SYS_finit_module, misc::sys_eperm, Refused, ""),
    (SYS_delete_module, misc::sys_eperm, Refused, ""),
    (SYS_kexec_load, misc::sys_eperm, Refused, ""),
    (
        SYS_ptrace,
        misc::sys_eperm,
        Refused,
        "tracing inside the sandbox is not supported"
    ),
    (SYS_unshare, misc::sys_eperm, Refused, ""),
    (SYS_setns, misc::sys_eperm, Refused, ""),
    (SYS_iopl, misc::sys_eperm, Refused, ""),
    (SYS_ioperm, misc::sys_eperm, Refused, ""),
];

static BY_NR: OnceLock<Vec<Option<&'static SyscallDef>>> = OnceLock::new();

pub fn lookup(nr: u64) -> Option<&'static SyscallDef> {
    let t = BY_NR.get_or_init(|| {
        let mut v = vec![None; 512];
        for d in TABLE {
            if let Some(slot) = v.get_mut(d.nr as usize) {
                *slot = Some(d);
            }
        }
        v
    });
    t.get(nr as usize).copied().flatten()
}

/// (number, name, support level, note) of every x86-64 syscall the sentry knows by name, in
/// number order. Unlisted syscalls are `unsupported` (ENOSYS).
fn rows() -> impl Iterator<Item = (u64, &'static str, &'static str, &'static str)> {
    (0..super::names::NAMES.len() as u64).filter_map(|nr| {
        let name = super::name_of(nr);
        if name == "unknown" {
            return None;
        }
        let (support, note) = match lookup(nr) {
            Some(d) => (d.support.as_str(), d.note),
            None => ("unsupported", "ENOSYS"),
        };
        Some((nr, name, support, note))
    })
}

/// The table as text, one syscall per line: number, name, support, note (tab-separated).
pub fn render() -> String {
    rows()
        .map(|(nr, name, support, note)| format!("{nr}\t{name}\t{support}\t{note}\n"))
        .collect()
}

/// The table as the Markdown page docs/syscalls.md (`moat syscalls --format markdown`; a
/// test keeps the committed page equal to this).
pub fn render_markdown() -> String {
    let mut counts = [0usize; 4];
    let levels = ["full", "partial", "refused", "unsupported"];
    for (_, _, support, _) in rows() {
        if let Some(i) = levels.iter().position(|l| *l == support) {
            counts[i] += 1;
        }
    }
    let mut out = String::from(
        "# Supported syscalls (x86-64)\n\n\
         <!-- Generated by `moat syscalls --format markdown` (`make docs`); do not edit. -->\n\n\
         Every syscall the workload makes is trapped and served by the sentry; none is passed \
         through to the host kernel (the sentry may use host resources on the workload's behalf, \
         e.g. host sockets in the sandbox's network namespace for AF_INET). Support levels:\n\n\
         - **full**: Linux semantics as far as the workload can observe them;\n\
         - **partial**: implemented, with the limits in the note;\n\
         - **refused**: fails on purpose with the error in the note (EPERM unless said \
         otherwise), because the sandbox does not allow it;\n\
         - **unsupported**: ENOSYS, logged once per sandbox by name.\n\n",
    );
    out += &format!(
        "Totals: {} full, {} partial, {} refused, {} unsupported.\n\n",
        counts[0], counts[1], counts[2], counts[3]
    );
    out += "| # | syscall | support | note |\n|---:|---|---|---|\n";
    for (nr, name, support, note) in rows() {
        let note = note.replace('|', "\\|");
        out += &format!("| {nr} | `{name}` | {support} | {note} |\n");
    }
    out
}
