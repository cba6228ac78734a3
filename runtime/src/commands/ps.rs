//! `moat ps`: the container's processes, as the sandbox sees them.
//!
//! runc's `ps` prints host pids (and runs the host's ps(1) for the table). A moat workload's
//! processes have no host pids of their own: they are tasks of the sentry, in the sandbox's pid
//! namespace, so moat prints their *virtual* pids (init is 1), as `ps` inside the container
//! would. `--format json` is, as with runc, a JSON array of those pids.

use std::io::Write;

use crate::cli::{ListFormat, PsArgs};
use crate::commands::start::CONTROL_TIMEOUT;
use crate::commands::Ctx;
use crate::container_id;
use crate::control::{self, ProcessEntry, Request};
use crate::error::{Error, Result};
use crate::state::{Container, Status};

pub fn run(ctx: &Ctx, args: &PsArgs) -> Result<()> {
    container_id::validate(&args.id)?;
    if !args.ps_args.is_empty() {
        tracing::warn!(
            "ps options {:?} are ignored: moat lists the sandbox's own processes",
            args.ps_args
        );
    }
    let c = Container::load(&ctx.root, &args.id)?;
    let procs = match c.status() {
        Status::Stopped | Status::Creating => Vec::new(),
        _ => match control::call(
            &c.control_socket(),
            &Request::Ps {
                container: c.member(),
            },
            CONTROL_TIMEOUT,
        ) {
            Ok(r) => r.processes.unwrap_or_default(),
            // It stopped meanwhile.
            Err(_) if !c.sandbox_alive() => Vec::new(),
            Err(e) => return Err(e),
        },
    };
    let out = match args.format {
        ListFormat::Json => {
            let pids: Vec<i32> = procs.iter().map(|p| p.pid).collect();
            // runc prints Go's nil slice (`null`) when there is no process.
            let mut s = if pids.is_empty() {
                "null".to_string()
            } else {
                serde_json::to_string(&pids)
                    .map_err(|e| Error::Other(format!("encode pids: {e}")))?
            };
            s.push('\n');
            s
        }
        ListFormat::Table => table(&procs),
    };
    std::io::stdout()
        .lock()
        .write_all(out.as_bytes())
        .map_err(|e| Error::io("write process list", e))
}

/// `UID PID PPID STAT CMD`, like `ps -o uid,pid,ppid,stat,args`.
pub fn table(procs: &[ProcessEntry]) -> String {
    let mut s = format!(
        "{:<8} {:>7} {:>7} {:<4} {}\n",
        "UID", "PID", "PPID", "STAT", "CMD"
    );
    for p in procs {
        let cmd = if p.args.is_empty() {
            format!("[{}]", p.comm)
        } else {
            p.args.join(" ")
        };
        s.push_str(&format!(
            "{:<8} {:>7} {:>7} {:<4} {}\n",
            p.uid,
            p.pid,
            p.ppid,
            p.state,
            crate::logging::one_line(&cmd)
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_shape() {
        let t = table(&[ProcessEntry {
            pid: 1,
            ppid: 0,
            uid: 0,
            state: "S".into(),
            comm: "sleep".into(),
            args: vec!["sleep".into(), "100".into()],
            threads: 1,
        }]);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with("UID"));
        assert!(lines[1].ends_with("sleep 100"));
        assert_eq!(lines[1].split_whitespace().nth(1), Some("1"));
    }
}
