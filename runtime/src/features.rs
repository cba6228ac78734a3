//! What moat supports, as the OCI runtime-spec "features" document (`moat features`), and the
//! capability names it recognises.
//!
//! The document is meant to be truthful: it lists what moat enforces, not what it merely parses.

use serde_json::{json, Value};

use crate::error::{Error, Result};

/// Linux capability names, in number order.
pub const CAPABILITIES: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// The number of capability `name` (`CAP_X`, `X`, any case).
pub fn capability_number(name: &str) -> Result<u32> {
    let upper = name.to_ascii_uppercase();
    let full = if upper.starts_with("CAP_") {
        upper
    } else {
        format!("CAP_{upper}")
    };
    CAPABILITIES
        .iter()
        .position(|c| *c == full)
        .map(|i| i as u32)
        .ok_or_else(|| Error::Other(format!("unknown capability {name:?}")))
}

/// Accepts `CAP_X`, `X`, any case (as runc's `exec --cap`).
pub fn check_capability(name: &str) -> Result<()> {
    let upper = name.to_ascii_uppercase();
    let full = if upper.starts_with("CAP_") {
        upper
    } else {
        format!("CAP_{upper}")
    };
    if CAPABILITIES.contains(&full.as_str()) {
        Ok(())
    } else {
        Err(Error::Other(format!("unknown capability {name:?}")))
    }
}

/// The features document.
pub fn document() -> Value {
    json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": oci_spec::runtime::version(),
        "hooks": [
            "prestart",
            "createRuntime",
            "createContainer",
            "startContainer",
            "poststart",
            "poststop"
        ],
        // Options with an effect on the filesystems the sentry serves.
        "mountOptions": ["bind", "rbind", "ro", "rro", "rw"],
        "linux": {
            // user: ignored (the sentry has its own credentials model); time: not supported.
            "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "uts"],
            "cgroup": {
                "v1": true,
                "v2": true,
                // --systemd-cgroup paths are written directly, without systemd.
                "systemd": false,
                "systemdUser": false,
                "rdma": false
            },
            // The seccomp profile is enforced by the sentry on the workload's virtual syscalls
            // (sentry/src/syscalls/seccomp.rs); AppArmor and SELinux are not applied.
            "seccomp": {
                "enabled": true,
                "actions": [
                    "SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS",
                    "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP"
                ],
                "operators": [
                    "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT",
                    "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"
                ],
                "archs": ["SCMP_ARCH_X86_64"],
                "knownFlags": [],
                "supportedFlags": []
            },
            "apparmor": { "enabled": false },
            "selinux": { "enabled": false },
            "intelRdt": { "enabled": false },
            "mountExtensions": { "idmap": { "enabled": false } }
        },
        "annotations": {
            "org.opencontainers.moat.version": env!("CARGO_PKG_VERSION"),
            "org.opencontainers.moat.sandbox": "sentry (user-space kernel)",
            "org.opencontainers.moat.platforms": "systrap,ptrace",
            "org.opencontainers.moat.platform.default":
                sentry::SentryOptions::default().platform.name(),
            "org.opencontainers.moat.exec.pids": "virtual (the sandbox's own pid namespace)"
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_is_an_oci_features_object() {
        let d = document();
        let f: oci_spec::runtime::Features = serde_json::from_value(d.clone()).unwrap();
        assert_eq!(f.oci_version_min(), "1.0.0");
        assert_eq!(d["hooks"].as_array().unwrap().len(), 6);
        assert_eq!(d["linux"]["seccomp"]["enabled"], true);
    }

    #[test]
    fn capability_names() {
        assert!(check_capability("CAP_NET_ADMIN").is_ok());
        assert!(check_capability("net_admin").is_ok());
        assert!(check_capability("CAP_BOGUS").is_err());
        assert_eq!(capability_number("CAP_CHOWN").unwrap(), 0);
        assert_eq!(capability_number("sys_admin").unwrap(), 21);
        assert_eq!(capability_number("CAP_CHECKPOINT_RESTORE").unwrap(), 40);
        assert_eq!(CAPABILITIES.len(), 41);
    }
}
