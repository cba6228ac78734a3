//! The container's root filesystem: containerd hands the snapshot as mounts (an overlay of the
//! image's layers, or a bind mount) that the shim mounts at `<bundle>/rootfs` before
//! `moat create`, and unmounts at delete, as runc's shim does. Done in the shim process itself:
//! no fork in a threaded process.

use std::path::Path;

use nix::mount::{mount, umount2, MntFlags, MsFlags};

use crate::error::{Error, Result};

/// The kernel takes one page of mount data.
const MAX_DATA: usize = 4096;

/// `(flags, data, propagation)` of containerd's mount options.
fn parse_options(options: &[String]) -> (MsFlags, Vec<String>, MsFlags) {
    let mut flags = MsFlags::empty();
    let mut propagation = MsFlags::empty();
    let mut data = Vec::new();
    for o in options {
        let (set, clear) = match o.as_str() {
            "ro" => (MsFlags::MS_RDONLY, MsFlags::empty()),
            "rw" => (MsFlags::empty(), MsFlags::MS_RDONLY),
            "bind" => (MsFlags::MS_BIND, MsFlags::empty()),
            "rbind" => (MsFlags::MS_BIND | MsFlags::MS_REC, MsFlags::empty()),
            "nosuid" => (MsFlags::MS_NOSUID, MsFlags::empty()),
            "suid" => (MsFlags::empty(), MsFlags::MS_NOSUID),
            "nodev" => (MsFlags::MS_NODEV, MsFlags::empty()),
            "dev" => (MsFlags::empty(), MsFlags::MS_NODEV),
            "noexec" => (MsFlags::MS_NOEXEC, MsFlags::empty()),
            "exec" => (MsFlags::empty(), MsFlags::MS_NOEXEC),
            "sync" => (MsFlags::MS_SYNCHRONOUS, MsFlags::empty()),
            "async" => (MsFlags::empty(), MsFlags::MS_SYNCHRONOUS),
            "dirsync" => (MsFlags::MS_DIRSYNC, MsFlags::empty()),
            "noatime" => (MsFlags::MS_NOATIME, MsFlags::empty()),
            "atime" => (MsFlags::empty(), MsFlags::MS_NOATIME),
            "nodiratime" => (MsFlags::MS_NODIRATIME, MsFlags::empty()),
            "diratime" => (MsFlags::empty(), MsFlags::MS_NODIRATIME),
            "relatime" => (MsFlags::MS_RELATIME, MsFlags::empty()),
            "norelatime" => (MsFlags::empty(), MsFlags::MS_RELATIME),
            "strictatime" => (MsFlags::MS_STRICTATIME, MsFlags::empty()),
            "defaults" => (MsFlags::empty(), MsFlags::empty()),
            "private" | "rprivate" | "shared" | "rshared" | "slave" | "rslave" => {
                let p = match o.trim_start_matches('r') {
                    "private" => MsFlags::MS_PRIVATE,
                    "shared" => MsFlags::MS_SHARED,
                    _ => MsFlags::MS_SLAVE,
                };
                propagation |= p;
                if o.starts_with('r') {
                    propagation |= MsFlags::MS_REC;
                }
                continue;
            }
            _ => {
                data.push(o.clone());
                continue;
            }
        };
        flags = (flags | set) & !clear;
    }
    (flags, data, propagation)
}

/// Mounts one of containerd's rootfs mounts on `target`.
pub fn mount_one(fstype: &str, source: &str, options: &[String], target: &Path) -> Result<()> {
    let (flags, data, propagation) = parse_options(options);
    let data = data.join(",");
    if data.len() >= MAX_DATA {
        return Err(Error::InvalidArgument(format!(
            "rootfs mount options are {} bytes, more than the kernel takes (too many layers?)",
            data.len()
        )));
    }
    let what = format!("mount {fstype} {source} on {}", target.display());
    let fstype = (!fstype.is_empty() && !flags.contains(MsFlags::MS_BIND)).then_some(fstype);
    let data = (!data.is_empty()).then_some(data.as_str());
    mount(Some(source), target, fstype, flags, data).map_err(Error::nix(what.clone()))?;
    // A bind mount takes read-only only from a remount.
    if flags.contains(MsFlags::MS_BIND | MsFlags::MS_RDONLY) {
        mount::<str, Path, str, str>(None, target, None, flags | MsFlags::MS_REMOUNT, None)
            .map_err(Error::nix(format!("{what} (read-only)")))?;
    }
    if !propagation.is_empty() {
        mount::<str, Path, str, str>(None, target, None, propagation, None)
            .map_err(Error::nix(format!("{what} (propagation)")))?;
    }
    Ok(())
}

/// Unmounts everything mounted on `target` (stacked mounts included).
pub fn unmount_all(target: &Path) {
    for _ in 0..32 {
        match umount2(target, MntFlags::empty()) {
            Ok(()) => continue,
            Err(nix::errno::Errno::EBUSY) => {
                if umount2(target, MntFlags::MNT_DETACH).is_err() {
                    break;
                }
            }
            Err(e) => {
                // EINVAL: nothing (more) is mounted there.
                if e != nix::errno::Errno::EINVAL && e != nix::errno::Errno::ENOENT {
                    log::warn!("unmount {}: {e}", target.display());
                }
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn overlay_options_are_data() {
        let (f, d, p) = parse_options(&s(&[
            "index=off",
            "workdir=/w",
            "upperdir=/u",
            "lowerdir=/l1:/l2",
        ]));
        assert!(f.is_empty() && p.is_empty());
        assert_eq!(
            d,
            s(&["index=off", "workdir=/w", "upperdir=/u", "lowerdir=/l1:/l2"])
        );
    }

    #[test]
    fn bind_flags() {
        let (f, d, p) = parse_options(&s(&["rbind", "ro", "nosuid", "rprivate"]));
        assert_eq!(
            f,
            MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_RDONLY | MsFlags::MS_NOSUID
        );
        assert!(d.is_empty());
        assert_eq!(p, MsFlags::MS_PRIVATE | MsFlags::MS_REC);
        let (f, _, _) = parse_options(&s(&["ro", "rw"]));
        assert!(!f.contains(MsFlags::MS_RDONLY));
    }

    #[test]
    fn too_long_data_is_refused() {
        let long = format!("lowerdir={}", "/x".repeat(3000));
        let e = mount_one("overlay", "overlay", &[long], Path::new("/nonexistent")).unwrap_err();
        assert!(e.to_string().contains("too many layers"), "{e}");
    }
}
