//! `moat update`: change the resource limits of a container's cgroup, from `--resources FILE`
//! (OCI `linux.resources` JSON; `-` is stdin, which containerd uses) or from runc's flags (with
//! `--resources` the flags are ignored, as runc does).

use std::io::Read;

use oci_spec::runtime::LinuxResources;
use serde_json::{json, Value};

use crate::cgroups;
use crate::cli::UpdateArgs;
use crate::commands::Ctx;
use crate::container_id;
use crate::error::{Error, Result};
use crate::state::{self, Container, Lock, Status};

pub fn run(ctx: &Ctx, args: &UpdateArgs) -> Result<()> {
    container_id::validate(&args.id)?;
    let resources = resources(args)?;
    let _lock = Lock::exclusive(&state::container_dir(&ctx.root, &args.id))?;
    let c = Container::load(&ctx.root, &args.id)?;
    if matches!(c.status(), Status::Stopped | Status::Creating) {
        return Err(Error::State("container not running".into()));
    }
    if c.state.cgroup.is_empty() {
        return Err(Error::Other(
            "the container has no cgroup (no cgroup hierarchy was mounted at create)".into(),
        ));
    }
    cgroups::apply(&c.state.cgroup, &resources)?;
    tracing::debug!(id = %args.id, "resources updated");
    Ok(())
}

fn resources(args: &UpdateArgs) -> Result<LinuxResources> {
    if args.l3_cache_schema.is_some() || args.mem_bw_schema.is_some() {
        return Err(Error::Other(
            "Intel RDT (--l3-cache-schema, --mem-bw-schema) is not supported".into(),
        ));
    }
    let v: Value = match &args.resources {
        Some(path) => {
            let mut data = Vec::new();
            if path.as_os_str() == "-" {
                std::io::stdin()
                    .read_to_end(&mut data)
                    .map_err(|e| Error::io("read resources from stdin", e))?;
            } else {
                data = std::fs::read(path)
                    .map_err(|e| Error::io(format!("read {}", path.display()), e))?;
            }
            serde_json::from_slice(&data).map_err(|e| Error::Config(format!("resources: {e}")))?
        }
        None => flags(args)?,
    };
    serde_json::from_value(v).map_err(|e| Error::Config(format!("resources: {e}")))
}

fn flags(a: &UpdateArgs) -> Result<Value> {
    let mut v = json!({});
    // serde_json turns a Null indexed by a key into an object.
    let mut set = |path: &[&str], val: Value| {
        let mut cur = &mut v;
        for k in path {
            cur = &mut cur[*k];
        }
        *cur = val;
    };
    if let Some(w) = a.blkio_weight {
        set(&["blockIO", "weight"], json!(w));
    }
    if let Some(p) = a.cpu_period {
        set(&["cpu", "period"], json!(p));
    }
    if let Some(q) = a.cpu_quota {
        set(&["cpu", "quota"], json!(q));
    }
    if let Some(s) = a.cpu_share {
        set(&["cpu", "shares"], json!(s));
    }
    if let Some(p) = a.cpu_rt_period {
        set(&["cpu", "realtimePeriod"], json!(p));
    }
    if let Some(r) = a.cpu_rt_runtime {
        set(&["cpu", "realtimeRuntime"], json!(r));
    }
    if let Some(c) = &a.cpuset_cpus {
        set(&["cpu", "cpus"], json!(c));
    }
    if let Some(m) = &a.cpuset_mems {
        set(&["cpu", "mems"], json!(m));
    }
    for (flag, val, key) in [
        ("--memory", &a.memory, "limit"),
        ("--memory-reservation", &a.memory_reservation, "reservation"),
        ("--memory-swap", &a.memory_swap, "swap"),
        ("--kernel-memory", &a.kernel_memory, "kernel"),
        ("--kernel-memory-tcp", &a.kernel_memory_tcp, "kernelTCP"),
    ] {
        if let Some(s) = val {
            set(&["memory", key], json!(parse_bytes(flag, s)?));
        }
    }
    if let Some(p) = a.pids_limit {
        set(&["pids", "limit"], json!(p));
    }
    Ok(v)
}

/// Docker's RAMInBytes: `1024`, `512k`, `64m`, `1.5g`, `2GiB` (binary units); `-1` is
/// unlimited.
pub fn parse_bytes(flag: &str, s: &str) -> Result<i64> {
    let bad = || Error::Other(format!("invalid value for {flag}: {s:?}"));
    let t = s.trim();
    if t == "-1" {
        return Ok(-1);
    }
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num.parse().map_err(|_| bad())?;
    let mult: f64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" | "kib" => 1024.0,
        "m" | "mb" | "mib" => 1024.0 * 1024.0,
        "g" | "gb" | "gib" => 1024.0 * 1024.0 * 1024.0,
        "t" | "tb" | "tib" => 1024f64.powi(4),
        "p" | "pb" | "pib" => 1024f64.powi(5),
        _ => return Err(bad()),
    };
    let v = n * mult;
    if !v.is_finite() || v > i64::MAX as f64 {
        return Err(bad());
    }
    Ok(v as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_sizes() {
        assert_eq!(parse_bytes("m", "1024").unwrap(), 1024);
        assert_eq!(parse_bytes("m", "512k").unwrap(), 512 * 1024);
        assert_eq!(parse_bytes("m", "64M").unwrap(), 64 << 20);
        assert_eq!(parse_bytes("m", "1.5g").unwrap(), 3 << 29);
        assert_eq!(parse_bytes("m", "2GiB").unwrap(), 2 << 30);
        assert_eq!(parse_bytes("m", "-1").unwrap(), -1);
        for b in ["", "x", "12q", "-5", "1e400"] {
            assert!(parse_bytes("m", b).is_err(), "{b}");
        }
    }
}
