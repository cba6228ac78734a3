//! `moat events`: resource usage as runc prints it, `{"type":"stats","id":...,"data":{...}}`,
//! once (`--stats`) or every `--interval` until the container stops, with an
//! `{"type":"oom","id":...}` line whenever the cgroup records an out-of-memory kill.
//!
//! `data` is read from the sandbox's cgroup (cpu, cpuset, memory, pids), in runc's field names;
//! it also carries `moat`, the sentry's own view: the workload's processes and threads and the
//! bytes its address spaces map (the cgroup's `pids` counts host tasks: the sentry's threads and
//! the stubs).

use std::io::Write;
use std::time::Duration;

use serde_json::{json, Value};

use crate::cgroups;
use crate::cli::EventsArgs;
use crate::commands::Ctx;
use crate::container_id;
use crate::control::{self, Request};
use crate::error::{Error, Result};
use crate::state::{Container, Status};

/// How long a stats request may take.
const STATS_TIMEOUT: Duration = Duration::from_secs(10);

pub fn run(ctx: &Ctx, args: &EventsArgs) -> Result<()> {
    let interval = parse_duration(&args.interval)?;
    if interval.is_zero() {
        return Err(Error::Other(
            "duration interval must be greater than 0".into(),
        ));
    }
    container_id::validate(&args.id)?;
    let c = Container::load(&ctx.root, &args.id)?;
    if matches!(c.status(), Status::Stopped | Status::Creating) {
        return Err(Error::State(format!(
            "container with id {} is not running",
            args.id
        )));
    }
    let mut out = std::io::stdout().lock();
    let mut emit = |line: String| -> Result<()> {
        out.write_all(line.as_bytes())
            .and_then(|_| out.flush())
            .map_err(|e| Error::io("write events", e))
    };
    if args.stats {
        return emit(stats_event(&c));
    }
    let mut ooms = cgroups::oom_kills(&c.state.cgroup);
    loop {
        if !c.sandbox_alive() {
            return Ok(());
        }
        let now = cgroups::oom_kills(&c.state.cgroup);
        if now > ooms {
            ooms = now;
            emit(event("oom", &c.state.id, None))?;
        }
        emit(stats_event(&c))?;
        std::thread::sleep(interval);
    }
}

/// An event line with runc's field order: `{"type":..,"id":..,"data":..}`.
fn event(typ: &str, id: &str, data: Option<&Value>) -> String {
    let q = |s: &str| serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into());
    match data {
        Some(d) => format!("{{\"type\":{},\"id\":{},\"data\":{d}}}\n", q(typ), q(id)),
        None => format!("{{\"type\":{},\"id\":{}}}\n", q(typ), q(id)),
    }
}

/// One `stats` event line.
pub fn stats_event(c: &Container) -> String {
    let mut data = if c.state.cgroup.is_empty() {
        json!({"cpu": {"usage": {}, "throttling": {}}, "memory": {}, "pids": {},
               "blkio": {}, "hugetlb": {}, "intel_rdt": {}, "network_interfaces": null})
    } else {
        cgroups::stats(&c.state.cgroup)
    };
    if let Ok(r) = control::call(
        &c.control_socket(),
        &Request::Stats {
            container: c.member(),
        },
        STATS_TIMEOUT,
    ) {
        if let Some(s) = r.stats {
            if c.state.cgroup.is_empty() {
                data["pids"]["current"] = json!(s.processes);
            }
            data["moat"] = json!({
                "processes": s.processes,
                "threads": s.threads,
                "mapped_bytes": s.mapped_bytes,
            });
        }
    }
    event("stats", &c.state.id, Some(&data))
}

/// A Go duration: `300ms`, `5s`, `1m30s`, `1.5h` (units ns, us, µs, ms, s, m, h).
pub fn parse_duration(s: &str) -> Result<Duration> {
    let bad = || Error::Other(format!("invalid duration {s:?}"));
    let mut rest = s.trim();
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    if rest.is_empty() {
        return Err(bad());
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let value: f64 = rest[..num_end].parse().map_err(|_| bad())?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_end] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(bad()),
        };
        total += value * scale;
        rest = &rest[unit_end..];
    }
    if !total.is_finite() || total > 1e9 {
        return Err(bad());
    }
    Ok(Duration::from_secs_f64(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5s").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_duration("300ms").unwrap(), Duration::from_millis(300));
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
        for b in ["", "5", "s", "5x", "-1s", "1e9h"] {
            assert!(parse_duration(b).is_err(), "{b}");
        }
    }
}
