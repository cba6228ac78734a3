//! Signal names and numbers as `runc kill` accepts them: `TERM`, `SIGTERM`, `term`, `15`.

use crate::error::{Error, Result};

/// Linux signal names (without `SIG`) and their numbers.
const NAMES: &[(&str, i32)] = &[
    ("HUP", libc::SIGHUP),
    ("INT", libc::SIGINT),
    ("QUIT", libc::SIGQUIT),
    ("ILL", libc::SIGILL),
    ("TRAP", libc::SIGTRAP),
    ("ABRT", libc::SIGABRT),
    ("IOT", libc::SIGIOT),
    ("BUS", libc::SIGBUS),
    ("FPE", libc::SIGFPE),
    ("KILL", libc::SIGKILL),
    ("USR1", libc::SIGUSR1),
    ("SEGV", libc::SIGSEGV),
    ("USR2", libc::SIGUSR2),
    ("PIPE", libc::SIGPIPE),
    ("ALRM", libc::SIGALRM),
    ("TERM", libc::SIGTERM),
    ("STKFLT", libc::SIGSTKFLT),
    ("CHLD", libc::SIGCHLD),
    ("CLD", libc::SIGCHLD),
    ("CONT", libc::SIGCONT),
    ("STOP", libc::SIGSTOP),
    ("TSTP", libc::SIGTSTP),
    ("TTIN", libc::SIGTTIN),
    ("TTOU", libc::SIGTTOU),
    ("URG", libc::SIGURG),
    ("XCPU", libc::SIGXCPU),
    ("XFSZ", libc::SIGXFSZ),
    ("VTALRM", libc::SIGVTALRM),
    ("PROF", libc::SIGPROF),
    ("WINCH", libc::SIGWINCH),
    ("IO", libc::SIGIO),
    ("POLL", libc::SIGPOLL),
    ("PWR", libc::SIGPWR),
    ("SYS", libc::SIGSYS),
];

/// Highest signal number (`SIGRTMAX` as the kernel counts).
pub const MAX_SIGNAL: i32 = 64;
/// The kernel's first real-time signal (glibc reserves 32 and 33 for itself).
const KERNEL_SIGRTMIN: i32 = 32;

/// Parses a signal as runc does: a decimal number, or a name with or without `SIG`, any case.
/// Also accepts `RTMIN`, `RTMIN+n`, `RTMAX`, `RTMAX-n`.
pub fn parse(raw: &str) -> Result<i32> {
    let unknown = || Error::UnknownSignal(raw.to_string());
    let s = raw.trim();
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        let n: i32 = s.parse().map_err(|_| unknown())?;
        return if (1..=MAX_SIGNAL).contains(&n) {
            Ok(n)
        } else {
            Err(unknown())
        };
    }
    let upper = s.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    if let Some(&(_, n)) = NAMES.iter().find(|(nm, _)| *nm == name) {
        return Ok(n);
    }
    let rt = |base: i32, rest: &str, sign: i32| -> Option<i32> {
        let off: i32 = if rest.is_empty() {
            0
        } else {
            rest.parse().ok()?
        };
        let n = base + sign * off;
        (KERNEL_SIGRTMIN + 2..=MAX_SIGNAL).contains(&n).then_some(n)
    };
    let parsed = if let Some(rest) = name.strip_prefix("RTMIN") {
        match rest.strip_prefix('+') {
            Some(off) => rt(KERNEL_SIGRTMIN + 2, off, 1),
            None if rest.is_empty() => rt(KERNEL_SIGRTMIN + 2, "", 1),
            None => None,
        }
    } else if let Some(rest) = name.strip_prefix("RTMAX") {
        match rest.strip_prefix('-') {
            Some(off) => rt(MAX_SIGNAL, off, -1),
            None if rest.is_empty() => rt(MAX_SIGNAL, "", -1),
            None => None,
        }
    } else {
        None
    };
    parsed.ok_or_else(unknown)
}

/// The signal's name without `SIG`, for messages.
pub fn name(sig: i32) -> String {
    NAMES
        .iter()
        .find(|(_, n)| *n == sig)
        .map(|(nm, _)| format!("SIG{nm}"))
        .unwrap_or_else(|| format!("signal {sig}"))
}

/// What a process does on `sig` when it has no handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultAction {
    Terminate,
    Ignore,
    Stop,
    Continue,
}

pub fn default_action(sig: i32) -> DefaultAction {
    match sig {
        libc::SIGCHLD | libc::SIGURG | libc::SIGWINCH => DefaultAction::Ignore,
        libc::SIGSTOP | libc::SIGTSTP | libc::SIGTTIN | libc::SIGTTOU => DefaultAction::Stop,
        libc::SIGCONT => DefaultAction::Continue,
        _ => DefaultAction::Terminate,
    }
}

/// Signals a process standing in for a workload process forwards to it: every catchable one
/// except SIGCHLD (about our own children), SIGURG, and glibc's reserved 32 and 33.
pub fn forwardable() -> Vec<i32> {
    (1..=MAX_SIGNAL)
        .filter(|&s| {
            !matches!(
                s,
                libc::SIGKILL | libc::SIGSTOP | libc::SIGCHLD | libc::SIGURG | 32 | 33
            )
        })
        .collect()
}

/// Write end of the self-pipe the handler writes signal numbers to.
static PIPE_WRITE: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(-1);

extern "C" fn to_pipe(sig: libc::c_int) {
    let fd = PIPE_WRITE.load(std::sync::atomic::Ordering::SeqCst);
    if fd >= 0 {
        let b = sig as u8;
        // SAFETY: write(2) is async-signal-safe; one byte from our stack. A full pipe drops
        // the signal (the pipe is non-blocking).
        unsafe { libc::write(fd, (&b as *const u8).cast(), 1) };
    }
}

/// Signals turned into bytes on a pipe, so a poll loop can handle them.
#[derive(Debug)]
pub struct SignalPipe {
    read: std::os::fd::OwnedFd,
    _write: std::os::fd::OwnedFd,
}

impl SignalPipe {
    /// Installs handlers for `signals` (once per process).
    pub fn install(signals: &[i32]) -> Result<SignalPipe> {
        use std::os::fd::FromRawFd;
        let mut fds = [0 as libc::c_int; 2];
        // SAFETY: pipe2 writes two fds into the array we pass.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) } != 0 {
            return Err(Error::last_os("create signal pipe"));
        }
        // SAFETY: both fds were just created and are owned by nobody else.
        let (read, write) = unsafe {
            (
                std::os::fd::OwnedFd::from_raw_fd(fds[0]),
                std::os::fd::OwnedFd::from_raw_fd(fds[1]),
            )
        };
        PIPE_WRITE.store(fds[1], std::sync::atomic::Ordering::SeqCst);
        for &sig in signals {
            // SAFETY: a zeroed sigaction with a plain handler that only calls write(2).
            unsafe {
                let mut sa: libc::sigaction = std::mem::zeroed();
                sa.sa_sigaction = to_pipe as extern "C" fn(libc::c_int) as usize;
                sa.sa_flags = libc::SA_RESTART;
                libc::sigemptyset(&mut sa.sa_mask);
                libc::sigaction(sig, &sa, std::ptr::null_mut());
            }
        }
        Ok(SignalPipe {
            read,
            _write: write,
        })
    }

    pub fn fd(&self) -> std::os::fd::RawFd {
        std::os::fd::AsRawFd::as_raw_fd(&self.read)
    }

    /// The signals received since the last call.
    pub fn drain(&self) -> Vec<i32> {
        let mut out = Vec::new();
        let mut buf = [0u8; 64];
        loop {
            // SAFETY: read into our buffer from our non-blocking pipe.
            let n = unsafe { libc::read(self.fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                break;
            }
            out.extend(buf[..n as usize].iter().map(|&b| i32::from(b)));
        }
        out
    }
}

/// Restores the default action of `signals`.
pub fn reset_handlers(signals: &[i32]) {
    for &sig in signals {
        // SAFETY: setting SIG_DFL has no memory effects.
        unsafe { libc::signal(sig, libc::SIG_DFL) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers() {
        assert_eq!(parse("TERM").unwrap(), 15);
        assert_eq!(parse("SIGTERM").unwrap(), 15);
        assert_eq!(parse("term").unwrap(), 15);
        assert_eq!(parse("sigkill").unwrap(), 9);
        assert_eq!(parse("KILL").unwrap(), 9);
        assert_eq!(parse("9").unwrap(), 9);
        assert_eq!(parse("64").unwrap(), 64);
        assert_eq!(parse("USR1").unwrap(), libc::SIGUSR1);
        assert_eq!(parse("WINCH").unwrap(), libc::SIGWINCH);
        assert_eq!(parse("RTMIN").unwrap(), 34);
        assert_eq!(parse("RTMIN+2").unwrap(), 36);
        assert_eq!(parse("SIGRTMAX-1").unwrap(), 63);
    }

    #[test]
    fn rejects_unknown() {
        for s in [
            "",
            "0",
            "65",
            "-1",
            "FOO",
            "SIG",
            "SIGSIGTERM",
            "RTMIN+40",
            "RTMAX-40",
            "1x",
            "99999999999",
        ] {
            assert!(parse(s).is_err(), "{s:?}");
        }
        assert_eq!(
            parse("FOO").unwrap_err().to_string(),
            "unknown signal \"FOO\""
        );
    }

    #[test]
    fn default_actions() {
        assert_eq!(default_action(libc::SIGTERM), DefaultAction::Terminate);
        assert_eq!(default_action(libc::SIGWINCH), DefaultAction::Ignore);
        assert_eq!(default_action(libc::SIGTSTP), DefaultAction::Stop);
        assert_eq!(name(15), "SIGTERM");
    }
}
