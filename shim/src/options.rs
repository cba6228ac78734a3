//! The shim's options: a TOML file named by the runtime options containerd passes (as runsc's
//! shim takes them), e.g. for the CRI plugin
//!
//! ```toml
//! [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.moat]
//!   runtime_type = "io.containerd.moat.v1"
//!   [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.moat.options]
//!     ConfigPath = "/etc/moat/shim.toml"
//! ```
//!
//! which containerd sends as a `runtimeoptions.v1.Options` (`type_url`, `config_path`, and from
//! containerd 1.7 `config_body`); `ctr run --runtime-config-path F` sends the same message. runc's
//! own options message (`containerd.runc.v1.Options`: `BinaryName`, `Root`, `SystemdCgroup`) is
//! understood too. No options at all means the defaults.

use std::collections::HashMap;
use std::path::Path;

use containerd_shim::protos::protobuf::Message;
use containerd_shim::protos::shim::oci::Options as RuncOptions;
use serde::{Deserialize, Serialize};

/// The message of `ctr --runtime-config-path` and of the CRI `options` table for runtimes other
/// than runc (github.com/containerd/containerd/pkg/runtimeoptions/v1).
pub const RUNTIME_OPTIONS_TYPE: &str = "runtimeoptions.v1.Options";
pub const RUNC_OPTIONS_TYPE: &str = "containerd.runc.v1.Options";

/// Where moat keeps its state when the options do not say: a directory per containerd
/// namespace below it (container ids are unique only within a namespace).
pub const DEFAULT_ROOT: &str = "/run/moat";

#[derive(Debug, thiserror::Error)]
pub enum OptionsError {
    #[error("moat shim options file {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("moat shim options file {path}: {msg}")]
    Toml { path: String, msg: String },
    #[error("moat shim options: {0}")]
    Invalid(String),
    #[error(
        "moat shim: runtime options of type {0:?} are not understood (expected {RUNTIME_OPTIONS_TYPE} \
         with ConfigPath, or {RUNC_OPTIONS_TYPE})"
    )]
    UnknownType(String),
    #[error("moat shim: malformed runtime options ({type_url}): {msg}")]
    Protobuf { type_url: String, msg: String },
}

/// The keys of the options file. Unknown keys are errors, so a typo is not silently ignored.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShimOptions {
    /// The moat binary (a path, or a name looked up on the shim's PATH). Default `moat`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binary_name: Option<String>,
    /// moat's `--root`; the shim adds `/<containerd namespace>`. Default [`DEFAULT_ROOT`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root: Option<String>,
    /// moat's `--debug` (and the shim logs at debug level too).
    #[serde(default)]
    pub debug: bool,
    /// moat's `--log` (`%ID%` is replaced by the container id). Default `<bundle>/log.json`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<String>,
    /// moat's `--systemd-cgroup`.
    #[serde(default)]
    pub systemd_cgroup: bool,
    /// moat's `--overlay`: `memory` (default) or `none`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overlay: Option<String>,
    /// moat's `--uname-release`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uname_release: Option<String>,
    /// moat's `--pin-cpu`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin_cpu: Option<bool>,
    /// moat's (and runsc's) `--platform`: `systrap` or `ptrace`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    /// moat's `--syscall-patch` (systrap; default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub syscall_patch: Option<bool>,
    /// runsc's key. moat has no `--network` flag: the sentry's sockets are host sockets in the
    /// sandbox's network namespace (runsc calls that `host`), the only value accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    /// runsc's key. moat has no syscall trace yet: accepted and stored, logged as ignored.
    #[serde(default)]
    pub strace: bool,
}

impl ShimOptions {
    /// Parses and checks an options file's text; `path` names it in messages.
    pub fn from_toml(text: &str, path: &str) -> Result<ShimOptions, OptionsError> {
        let o: ShimOptions = toml::from_str(text).map_err(|e| OptionsError::Toml {
            path: path.to_string(),
            // toml's message spans lines (a caret under the column); containerd shows one.
            msg: e
                .to_string()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" "),
        })?;
        o.validate()?;
        Ok(o)
    }

    pub fn from_file(path: &Path) -> Result<ShimOptions, OptionsError> {
        let text = std::fs::read_to_string(path).map_err(|source| OptionsError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_toml(&text, &path.display().to_string())
    }

    /// The options of a protobuf `Any` from containerd (`type_url`, `value`); an empty one
    /// means the defaults.
    pub fn from_any(type_url: &str, value: &[u8]) -> Result<ShimOptions, OptionsError> {
        let bare = type_url.rsplit('/').next().unwrap_or(type_url);
        if bare.is_empty() && value.is_empty() {
            return Ok(ShimOptions::default());
        }
        match bare {
            RUNTIME_OPTIONS_TYPE => {
                let fields = proto_strings(value).map_err(|msg| OptionsError::Protobuf {
                    type_url: type_url.to_string(),
                    msg,
                })?;
                let path = fields.get(&2).cloned().unwrap_or_default();
                let body = fields.get(&3).cloned().unwrap_or_default();
                if !body.is_empty() {
                    let name = if path.is_empty() {
                        "(ConfigBody)"
                    } else {
                        &path
                    };
                    Self::from_toml(&body, name)
                } else if !path.is_empty() {
                    Self::from_file(Path::new(&path))
                } else {
                    Ok(ShimOptions::default())
                }
            }
            RUNC_OPTIONS_TYPE => {
                let r =
                    RuncOptions::parse_from_bytes(value).map_err(|e| OptionsError::Protobuf {
                        type_url: type_url.to_string(),
                        msg: e.to_string(),
                    })?;
                let o = ShimOptions {
                    binary_name: (!r.binary_name.is_empty()).then(|| r.binary_name.clone()),
                    root: (!r.root.is_empty()).then(|| r.root.clone()),
                    systemd_cgroup: r.systemd_cgroup,
                    ..Default::default()
                };
                o.validate()?;
                Ok(o)
            }
            other => Err(OptionsError::UnknownType(other.to_string())),
        }
    }

    pub fn validate(&self) -> Result<(), OptionsError> {
        let bad = |m: String| Err(OptionsError::Invalid(m));
        if let Some(b) = &self.binary_name {
            if b.is_empty() {
                return bad("binary_name is empty".into());
            }
        }
        for (key, v) in [("root", &self.root), ("log", &self.log)] {
            if let Some(p) = v {
                if !p.starts_with('/') {
                    return bad(format!("{key} must be an absolute path, not {p:?}"));
                }
            }
        }
        if let Some(o) = &self.overlay {
            if o != "memory" && o != "none" {
                return bad(format!("overlay must be \"memory\" or \"none\", not {o:?}"));
            }
        }
        if let Some(p) = &self.platform {
            if p != "ptrace" && p != "systrap" {
                return bad(format!(
                    "platform {p:?} is not available: moat has the \"systrap\" and \"ptrace\" \
                     platforms"
                ));
            }
        }
        if let Some(n) = &self.network {
            if n != "host" {
                return bad(format!(
                    "network {n:?} is not available: moat's sockets are host sockets in the \
                     sandbox's network namespace (\"host\")"
                ));
            }
        }
        if let Some(r) = &self.uname_release {
            if r.is_empty() || r.contains(char::is_whitespace) {
                return bad(format!("uname_release {r:?} is not a kernel release"));
            }
        }
        Ok(())
    }

    pub fn binary(&self) -> &str {
        self.binary_name.as_deref().unwrap_or("moat")
    }

    /// moat's `--root` for containers of `namespace`.
    pub fn root_for(&self, namespace: &str) -> std::path::PathBuf {
        Path::new(self.root.as_deref().unwrap_or(DEFAULT_ROOT)).join(namespace)
    }

    /// moat's `--log` for container `id` in `bundle`.
    pub fn log_for(&self, id: &str, bundle: &Path) -> std::path::PathBuf {
        match &self.log {
            Some(l) => l.replace("%ID%", id).into(),
            None => bundle.join("log.json"),
        }
    }

    /// The global flags of every moat command (before the command name), other than `--root`
    /// and `--log`.
    pub fn global_flags(&self) -> Vec<String> {
        let mut v = vec!["--log-format".to_string(), "json".to_string()];
        if self.debug {
            v.push("--debug".into());
        }
        if self.systemd_cgroup {
            v.push("--systemd-cgroup".into());
        }
        if let Some(o) = &self.overlay {
            v.push(format!("--overlay={o}"));
        }
        if let Some(r) = &self.uname_release {
            v.push("--uname-release".into());
            v.push(r.clone());
        }
        if let Some(p) = self.pin_cpu {
            v.push("--pin-cpu".into());
            v.push(p.to_string());
        }
        if let Some(p) = &self.platform {
            v.push(format!("--platform={p}"));
        }
        if let Some(p) = self.syscall_patch {
            v.push(format!("--syscall-patch={p}"));
        }
        v
    }
}

/// The length-delimited fields (strings, bytes) of a protobuf message, by field number;
/// other wire types are skipped. Enough for `runtimeoptions.v1.Options`, whose fields are all
/// strings, without a generated type for it.
fn proto_strings(mut b: &[u8]) -> Result<HashMap<u32, String>, String> {
    fn varint(b: &mut &[u8]) -> Result<u64, String> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let (&byte, rest) = b.split_first().ok_or("truncated varint")?;
            *b = rest;
            v |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err("varint too long".into())
    }
    fn skip(b: &mut &[u8], n: u64) -> Result<(), String> {
        let n = usize::try_from(n).map_err(|_| "field too long")?;
        if b.len() < n {
            return Err("truncated field".into());
        }
        *b = &b[n..];
        Ok(())
    }
    let mut out = HashMap::new();
    while !b.is_empty() {
        let key = varint(&mut b)?;
        let field = u32::try_from(key >> 3).map_err(|_| "bad field number")?;
        match key & 7 {
            0 => {
                varint(&mut b)?;
            }
            1 => skip(&mut b, 8)?,
            2 => {
                let n = varint(&mut b)?;
                let n = usize::try_from(n).map_err(|_| "field too long")?;
                if b.len() < n {
                    return Err("truncated field".into());
                }
                let s = std::str::from_utf8(&b[..n])
                    .map_err(|_| format!("field {field} is not UTF-8"))?;
                out.insert(field, s.to_string());
                b = &b[n..];
            }
            5 => skip(&mut b, 4)?,
            w => return Err(format!("unsupported wire type {w}")),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Encodes length-delimited string fields, as Go's proto.Marshal does.
    fn encode(fields: &[(u32, &str)]) -> Vec<u8> {
        let mut v = Vec::new();
        for (n, s) in fields {
            v.push(((n << 3) | 2) as u8);
            let mut len = s.len();
            loop {
                let b = (len & 0x7f) as u8;
                len >>= 7;
                if len == 0 {
                    v.push(b);
                    break;
                }
                v.push(b | 0x80);
            }
            v.extend_from_slice(s.as_bytes());
        }
        v
    }

    #[test]
    fn full_file() {
        let o = ShimOptions::from_toml(
            r#"
binary_name = "/usr/local/bin/moat"
root = "/run/moat-k8s"
debug = true
log = "/var/log/moat/%ID%.json"
systemd_cgroup = true
overlay = "none"
uname_release = "6.6.0-moat"
pin_cpu = false
platform = "ptrace"
syscall_patch = false
network = "host"
strace = true
"#,
            "t.toml",
        )
        .unwrap();
        assert_eq!(o.binary(), "/usr/local/bin/moat");
        assert_eq!(o.root_for("k8s.io"), Path::new("/run/moat-k8s/k8s.io"));
        assert_eq!(
            o.log_for("abc", Path::new("/b")),
            Path::new("/var/log/moat/abc.json")
        );
        assert_eq!(
            o.global_flags(),
            [
                "--log-format",
                "json",
                "--debug",
                "--systemd-cgroup",
                "--overlay=none",
                "--uname-release",
                "6.6.0-moat",
                "--pin-cpu",
                "false",
                "--platform=ptrace",
                "--syscall-patch=false"
            ]
        );
        assert!(o.strace);
    }

    #[test]
    fn defaults() {
        let o = ShimOptions::from_toml("", "empty.toml").unwrap();
        assert_eq!(o, ShimOptions::default());
        assert_eq!(o.binary(), "moat");
        assert_eq!(o.root_for("default"), Path::new("/run/moat/default"));
        assert_eq!(o.log_for("c1", Path::new("/b")), Path::new("/b/log.json"));
        assert_eq!(o.global_flags(), ["--log-format", "json"]);
    }

    #[test]
    fn malformed_and_invalid_files() {
        let e = ShimOptions::from_toml("debug = tru", "/etc/moat/shim.toml").unwrap_err();
        let m = e.to_string();
        assert!(
            m.starts_with("moat shim options file /etc/moat/shim.toml: "),
            "{m}"
        );
        assert!(!m.contains('\n'), "{m}");
        let e = ShimOptions::from_toml("binary = \"x\"", "f").unwrap_err();
        assert!(e.to_string().contains("unknown field `binary`"), "{e}");
        let e = ShimOptions::from_toml("debug = \"yes\"", "f").unwrap_err();
        assert!(e.to_string().contains("debug"), "{e}");
        for (text, needle) in [
            ("platform = \"kvm\"", "platform \"kvm\" is not available"),
            ("network = \"sandbox\"", "network \"sandbox\""),
            ("overlay = \"disk\"", "overlay must be"),
            ("root = \"relative\"", "root must be an absolute path"),
            ("binary_name = \"\"", "binary_name is empty"),
        ] {
            let e = ShimOptions::from_toml(text, "f").unwrap_err();
            assert!(e.to_string().contains(needle), "{text}: {e}");
        }
        let e = ShimOptions::from_file(Path::new("/nonexistent/moat.toml")).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/moat.toml"), "{e}");
    }

    #[test]
    fn runtime_options_any() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("shim.toml");
        std::fs::write(&f, "debug = true\nroot = \"/run/x\"\n").unwrap();
        let path = f.to_str().unwrap();
        // ctr --runtime-config-path: only config_path (field 2).
        let o = ShimOptions::from_any(RUNTIME_OPTIONS_TYPE, &encode(&[(2, path)])).unwrap();
        assert!(o.debug);
        assert_eq!(o.root.as_deref(), Some("/run/x"));
        // The CRI plugin may set TypeUrl too; a config body (containerd 1.7) wins over the path.
        let v = encode(&[(1, "x"), (2, path), (3, "overlay = \"none\"")]);
        let o = ShimOptions::from_any(&format!("type.googleapis.com/{RUNTIME_OPTIONS_TYPE}"), &v)
            .unwrap();
        assert_eq!(o.overlay.as_deref(), Some("none"));
        assert!(!o.debug);
        // No options, or options without a path: defaults.
        assert_eq!(
            ShimOptions::from_any("", &[]).unwrap(),
            ShimOptions::default()
        );
        assert_eq!(
            ShimOptions::from_any(RUNTIME_OPTIONS_TYPE, &[]).unwrap(),
            ShimOptions::default()
        );
        // A malformed file through the Any names the file.
        std::fs::write(&f, "[[[").unwrap();
        let e = ShimOptions::from_any(RUNTIME_OPTIONS_TYPE, &encode(&[(2, path)])).unwrap_err();
        assert!(e.to_string().contains(path), "{e}");
        // Truncated protobuf, unknown type.
        let mut v = encode(&[(2, path)]);
        v.truncate(5);
        let e = ShimOptions::from_any(RUNTIME_OPTIONS_TYPE, &v).unwrap_err();
        assert!(e.to_string().contains("malformed runtime options"), "{e}");
        let e = ShimOptions::from_any("foo.v1.Bar", &[1, 2]).unwrap_err();
        assert!(e.to_string().contains("\"foo.v1.Bar\""), "{e}");
    }

    #[test]
    fn runc_options_any() {
        let r = RuncOptions {
            binary_name: "/opt/moat".into(),
            root: "/run/r".into(),
            systemd_cgroup: true,
            ..Default::default()
        };
        let v = r.write_to_bytes().unwrap();
        let o = ShimOptions::from_any(RUNC_OPTIONS_TYPE, &v).unwrap();
        assert_eq!(o.binary(), "/opt/moat");
        assert_eq!(o.root_for("ns"), Path::new("/run/r/ns"));
        assert!(o.systemd_cgroup);
    }

    #[test]
    fn stored_options_round_trip() {
        let o = ShimOptions {
            debug: true,
            overlay: Some("none".into()),
            ..Default::default()
        };
        let j = serde_json::to_string(&o).unwrap();
        assert_eq!(serde_json::from_str::<ShimOptions>(&j).unwrap(), o);
    }
}
