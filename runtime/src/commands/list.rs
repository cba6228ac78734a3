//! `moat list`: the containers under `--root`, as runc prints them.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::MetadataExt;

use crate::cli::{ListArgs, ListFormat};
use crate::commands::Ctx;
use crate::container_id;
use crate::error::{Error, Result};
use crate::state::{owner_name, Container};

pub fn run(ctx: &Ctx, args: &ListArgs) -> Result<()> {
    let mut found: Vec<(Container, String)> = Vec::new();
    let entries = match fs::read_dir(&ctx.root) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return print(args, &found),
        Err(e) => return Err(Error::io(format!("read {}", ctx.root.display()), e)),
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if container_id::validate(&name).is_err() || !entry.path().is_dir() {
            continue;
        }
        match Container::load(&ctx.root, &name) {
            Ok(c) => {
                let uid = entry.metadata().map(|m| m.uid()).unwrap_or(0);
                found.push((c, owner_name(uid)));
            }
            // Being created (no state yet) or deleted right now.
            Err(Error::NotExist { .. }) => {}
            Err(e) => tracing::warn!("{name}: {e}"),
        }
    }
    found.sort_by(|a, b| a.0.state.id.cmp(&b.0.state.id));
    print(args, &found)
}

fn print(args: &ListArgs, found: &[(Container, String)]) -> Result<()> {
    let mut out = String::new();
    if args.quiet {
        for (c, _) in found {
            out.push_str(&c.state.id);
            out.push('\n');
        }
    } else if args.format == ListFormat::Json {
        let states: Vec<_> = found
            .iter()
            .map(|(c, owner)| c.oci_state(owner.clone()))
            .collect();
        out = serde_json::to_string(&states)
            .map_err(|e| Error::Other(format!("encode list: {e}")))?;
        out.push('\n');
    } else {
        // runc's columns; a SANDBOX column (the pod sandbox of each app container) only when
        // some container runs in another's sandbox, so plain use prints exactly runc's table.
        let pods = found.iter().any(|(c, _)| c.state.sandbox.is_some());
        let mut rows = vec![[
            "ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER", "SANDBOX",
        ]
        .map(String::from)
        .to_vec()];
        for (c, owner) in found {
            rows.push(vec![
                c.state.id.clone(),
                c.reported_pid().to_string(),
                c.status().to_string(),
                c.state.bundle.display().to_string(),
                c.state.created.clone(),
                owner.clone(),
                c.state.sandbox.clone().unwrap_or_default(),
            ]);
        }
        if !pods {
            for r in &mut rows {
                r.pop();
            }
        }
        out = table(&rows);
    }
    io::stdout()
        .lock()
        .write_all(out.as_bytes())
        .map_err(|e| Error::io("write list", e))
}

/// Go's `tabwriter.NewWriter(w, 12, 1, 3, ' ', 0)` as runc uses it: every column but the last
/// is padded to max(12, widest cell + 3).
fn table(rows: &[Vec<String>]) -> String {
    let n = rows.first().map_or(0, Vec::len);
    let mut widths = vec![0usize; n];
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count() + 3).max(12);
        }
    }
    let mut s = String::new();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == n {
                s.push_str(cell);
            } else {
                s.push_str(&format!("{cell:<w$}", w = widths[i]));
            }
        }
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_like_runc() {
        let rows = [
            ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]
                .map(String::from)
                .to_vec(),
            [
                "t1",
                "3951",
                "created",
                "/tmp/rb",
                "2026-11-26T22:55:01.526409051Z",
                "root",
            ]
            .map(String::from)
            .to_vec(),
        ];
        let t = table(&rows);
        assert_eq!(
            t,
            "ID          PID         STATUS      BUNDLE      CREATED                          OWNER\n\
             t1          3951        created     /tmp/rb     2026-11-26T22:55:01.526409051Z   root\n"
        );
    }
}
