//! The container user's home directory, as runc sets `HOME` when the spec's environment lacks
//! it: the `/etc/passwd` entry of the process's uid inside the rootfs, else `/`.
//!
//! The file is read through the rootfs without following symlinks (`etc` and `passwd` are
//! opened with `O_NOFOLLOW`), so an image cannot make moat read a host file.

use nix::fcntl::{open, openat, OFlag};
use nix::sys::stat::Mode;
use std::io::Read;
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::Path;

/// Bytes of /etc/passwd read at most.
const MAX_PASSWD: u64 = 4 << 20;

/// `env` with `HOME=<home of uid>` added when it has no `HOME` entry.
pub fn with_home(mut env: Vec<String>, rootfs: &Path, uid: u32) -> Vec<String> {
    if env.iter().any(|e| e.starts_with("HOME=")) {
        return env;
    }
    let home = read_passwd(rootfs)
        .and_then(|p| home_of(&p, uid))
        .unwrap_or_else(|| "/".to_string());
    env.push(format!("HOME={home}"));
    env
}

fn read_passwd(rootfs: &Path) -> Option<String> {
    let flags = OFlag::O_RDONLY | OFlag::O_CLOEXEC | OFlag::O_NOFOLLOW;
    let root = open(rootfs, flags | OFlag::O_DIRECTORY, Mode::empty()).ok()?;
    // SAFETY: open returned a new fd that nothing else owns.
    let root = unsafe { OwnedFd::from_raw_fd(root) };
    let etc = openat(
        Some(std::os::fd::AsRawFd::as_raw_fd(&root)),
        "etc",
        flags | OFlag::O_DIRECTORY,
        Mode::empty(),
    )
    .ok()?;
    // SAFETY: as above.
    let etc = unsafe { OwnedFd::from_raw_fd(etc) };
    let f = openat(
        Some(std::os::fd::AsRawFd::as_raw_fd(&etc)),
        "passwd",
        flags,
        Mode::empty(),
    )
    .ok()?;
    // SAFETY: as above.
    let f = unsafe { std::fs::File::from_raw_fd(f) };
    let mut s = String::new();
    f.take(MAX_PASSWD).read_to_string(&mut s).ok()?;
    Some(s)
}

/// The home field of the first passwd line whose uid field is `uid`.
fn home_of(passwd: &str, uid: u32) -> Option<String> {
    passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() >= 7 && f[2].parse::<u32>().ok() == Some(uid)).then(|| f[5].to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn home_from_passwd_or_root() {
        let p = "root:x:0:0:root:/root:/bin/sh\nbad line\nwww:x:33:33::/var/www:/sbin/nologin\n";
        assert_eq!(home_of(p, 0).as_deref(), Some("/root"));
        assert_eq!(home_of(p, 33).as_deref(), Some("/var/www"));
        assert_eq!(home_of(p, 1000), None);
        let d = std::env::temp_dir().join(format!("moat-passwd-{}", std::process::id()));
        std::fs::create_dir_all(d.join("etc")).unwrap();
        std::fs::write(d.join("etc/passwd"), p).unwrap();
        let env = with_home(vec!["PATH=/bin".into()], &d, 33);
        assert_eq!(env, ["PATH=/bin", "HOME=/var/www"]);
        assert_eq!(with_home(vec!["HOME=/x".into()], &d, 33), ["HOME=/x"]);
        assert_eq!(with_home(vec![], &d, 7), ["HOME=/"]);
        // A symlinked passwd is not followed.
        std::fs::remove_file(d.join("etc/passwd")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", d.join("etc/passwd")).unwrap();
        assert_eq!(with_home(vec![], &d, 0), ["HOME=/"]);
        std::fs::remove_dir_all(&d).unwrap();
    }
}
