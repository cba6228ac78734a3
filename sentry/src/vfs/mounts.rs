//! A container's mount table as /proc/self/mounts and /proc/self/mountinfo show it: one entry
//! per mount, in the order they were made (the root first, then the spec's mounts in spec
//! order), with the spec's source and type and Linux's spelling of the options.

use std::fmt::Write;

/// One mount of a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountEntry {
    /// Where it is mounted, inside the container.
    pub target: Vec<u8>,
    /// File system type (`tmpfs`, `proc`, `devpts`, ...; a bind mount shows its host's).
    pub fstype: String,
    /// The mount source as given (`tmpfs`, `shm`, ...).
    pub source: String,
    /// The directory of the file system that is mounted: `/`, or a bind mount's source.
    pub root: String,
    /// Per-mount flags: `rw,nosuid,nodev,noexec,relatime`.
    pub mount_opts: String,
    /// Superblock options: `rw` or `ro`, then the file system's own (`size=65536k,mode=755`).
    pub super_opts: String,
    /// The file system's device number (st_dev of files below it).
    pub dev: u64,
}

/// Mount options that are flags of the mount or of the mount call, not file system data.
const FLAG_OPTIONS: &[&str] = &[
    "ro",
    "rw",
    "suid",
    "nosuid",
    "dev",
    "nodev",
    "exec",
    "noexec",
    "sync",
    "async",
    "dirsync",
    "remount",
    "mand",
    "nomand",
    "atime",
    "noatime",
    "diratime",
    "nodiratime",
    "relatime",
    "norelatime",
    "strictatime",
    "nostrictatime",
    "lazytime",
    "nolazytime",
    "silent",
    "loud",
    "bind",
    "rbind",
    "private",
    "rprivate",
    "shared",
    "rshared",
    "slave",
    "rslave",
    "unbindable",
    "runbindable",
    "symfollow",
    "nosymfollow",
    "tmpcopyup",
    "idmap",
    "ridmap",
    "defaults",
    "newinstance",
];

impl MountEntry {
    /// An entry for a mount made with the spec's `options`; `readonly` also when the mount is
    /// read-only for another reason (a read-only bind).
    pub fn new(
        target: &[u8],
        fstype: &str,
        source: &str,
        root: &str,
        options: &[String],
        readonly: bool,
        dev: u64,
    ) -> MountEntry {
        let has = |o: &str| options.iter().any(|x| x == o);
        let ro = readonly || has("ro");
        let rw = if ro { "ro" } else { "rw" };
        let mut mount_opts = rw.to_string();
        for (on, off, name) in [
            ("nosuid", "suid", "nosuid"),
            ("nodev", "dev", "nodev"),
            ("noexec", "exec", "noexec"),
        ] {
            // The last of a pair wins, as in mount(8).
            let last = options.iter().rev().find(|o| *o == on || *o == off);
            if last.is_some_and(|o| o == on) {
                mount_opts.push(',');
                mount_opts.push_str(name);
            }
        }
        // Linux's default access-time policy is relatime.
        let atime = options.iter().rev().find(|o| {
            matches!(
                o.as_str(),
                "noatime" | "strictatime" | "relatime" | "norelatime"
            )
        });
        match atime.map(String::as_str) {
            Some("noatime") => mount_opts.push_str(",noatime"),
            Some("strictatime") | Some("norelatime") => {}
            _ => mount_opts.push_str(",relatime"),
        }
        if has("nodiratime") {
            mount_opts.push_str(",nodiratime");
        }
        let mut super_opts = rw.to_string();
        for o in options {
            if FLAG_OPTIONS.contains(&o.as_str()) {
                continue;
            }
            super_opts.push(',');
            super_opts.push_str(&normalize_data_option(o));
        }
        MountEntry {
            target: target.to_vec(),
            fstype: fstype.to_string(),
            source: if source.is_empty() {
                "none".into()
            } else {
                source.to_string()
            },
            root: if root.is_empty() {
                "/".into()
            } else {
                root.to_string()
            },
            mount_opts,
            super_opts,
            dev,
        }
    }

    /// A line of /proc/self/mounts: `source target type options 0 0`.
    pub fn mounts_line(&self, out: &mut String) {
        let mut opts = self.mount_opts.clone();
        // The file system's own options follow the mount's flags (its rw/ro is the same).
        if let Some((_, data)) = self.super_opts.split_once(',') {
            opts.push(',');
            opts.push_str(data);
        }
        let _ = writeln!(
            out,
            "{} {} {} {} 0 0",
            escape(self.source.as_bytes()),
            escape(&self.target),
            self.fstype,
            opts
        );
    }

    /// A line of /proc/self/mountinfo: `id parent major:minor root target options - type
    /// source super-options`.
    pub fn mountinfo_line(&self, id: u32, parent: u32, out: &mut String) {
        let _ = writeln!(
            out,
            "{id} {parent} {}:{} {} {} {} - {} {} {}",
            libc::major(self.dev),
            libc::minor(self.dev),
            escape(self.root.as_bytes()),
            escape(&self.target),
            self.mount_opts,
            self.fstype,
            escape(self.source.as_bytes()),
            self.super_opts
        );
    }
}

/// The id of mount `index` of a table and of its parent (the deepest earlier mount that
/// contains its target; the root's parent is outside the container, as under runc).
pub fn ids(table: &[MountEntry], index: usize) -> (u32, u32) {
    const FIRST: u32 = 100;
    let id = FIRST + index as u32;
    if index == 0 {
        return (id, FIRST - 1);
    }
    let target = &table[index].target;
    let parent = (0..index)
        .rev()
        .find(|&j| {
            let p = &table[j].target;
            p.as_slice() == b"/" || (target.starts_with(p) && target.get(p.len()) == Some(&b'/'))
        })
        .unwrap_or(0);
    (id, FIRST + parent as u32)
}

/// `mode=0620` as the kernel prints it (`mode=620`); other data options as given.
fn normalize_data_option(o: &str) -> String {
    for key in ["mode=", "ptmxmode="] {
        if let Some(v) = o.strip_prefix(key) {
            if let Ok(m) = u32::from_str_radix(v, 8) {
                return format!("{key}{m:03o}");
            }
        }
    }
    o.to_string()
}

/// Spaces, tabs, newlines and backslashes as octal escapes, as the kernel writes paths here.
fn escape(p: &[u8]) -> String {
    let mut s = String::with_capacity(p.len());
    for &c in p {
        match c {
            b' ' | b'\t' | b'\n' | b'\\' => {
                let _ = write!(s, "\\{c:03o}");
            }
            _ => s.push(c as char),
        }
    }
    String::from_utf8_lossy(s.as_bytes()).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn dev_tmpfs_as_runc_spec_gives_it() {
        let e = MountEntry::new(
            b"/dev",
            "tmpfs",
            "tmpfs",
            "/",
            &opts(&["nosuid", "strictatime", "mode=755", "size=65536k"]),
            false,
            0x30,
        );
        let mut s = String::new();
        e.mountinfo_line(101, 100, &mut s);
        assert_eq!(
            s,
            "101 100 0:48 / /dev rw,nosuid - tmpfs tmpfs rw,mode=755,size=65536k\n"
        );
        let mut m = String::new();
        e.mounts_line(&mut m);
        assert_eq!(m, "tmpfs /dev tmpfs rw,nosuid,mode=755,size=65536k 0 0\n");
    }

    #[test]
    fn devpts_options_are_normalized_and_flags_dropped() {
        let e = MountEntry::new(
            b"/dev/pts",
            "devpts",
            "devpts",
            "/",
            &opts(&[
                "nosuid",
                "noexec",
                "newinstance",
                "ptmxmode=0666",
                "mode=0620",
                "gid=5",
            ]),
            false,
            1,
        );
        assert_eq!(e.mount_opts, "rw,nosuid,noexec,relatime");
        assert_eq!(e.super_opts, "rw,ptmxmode=666,mode=620,gid=5");
    }

    #[test]
    fn read_only_and_last_of_a_pair_wins() {
        let e = MountEntry::new(
            b"/x",
            "tmpfs",
            "",
            "",
            &opts(&["nodev", "dev", "noatime"]),
            true,
            2,
        );
        assert_eq!(e.mount_opts, "ro,noatime");
        assert_eq!(e.source, "none");
    }

    #[test]
    fn parents_are_the_deepest_containing_mount() {
        let t: Vec<MountEntry> = ["/", "/proc", "/dev", "/dev/pts", "/devices", "/dev/shm"]
            .iter()
            .map(|p| MountEntry::new(p.as_bytes(), "tmpfs", "", "", &[], false, 1))
            .collect();
        assert_eq!(ids(&t, 0), (100, 99));
        assert_eq!(ids(&t, 3), (103, 102));
        assert_eq!(ids(&t, 4), (104, 100));
        assert_eq!(ids(&t, 5), (105, 102));
    }

    #[test]
    fn paths_with_spaces_are_escaped() {
        let e = MountEntry::new(b"/a b", "tmpfs", "x", "/", &[], false, 1);
        let mut s = String::new();
        e.mounts_line(&mut s);
        assert!(s.starts_with("x /a\\040b tmpfs"), "{s}");
    }
}
