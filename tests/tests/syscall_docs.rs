//! docs/syscalls.md is the output of `moat syscalls --format markdown`: the committed page
//! must match the binary (run `make docs` after changing the sentry's syscall table), and the
//! text table must agree with it row by row.

use moat_tests::{moat_bin, run_with_timeout, workspace_root};
use std::process::Command;
use std::time::Duration;

fn moat_syscalls(format: &str) -> String {
    let mut c = Command::new(moat_bin());
    c.args(["syscalls", "--format", format]);
    let o = run_with_timeout(c, Duration::from_secs(30));
    assert!(
        o.success(),
        "moat syscalls --format {format}: {}",
        o.describe()
    );
    o.stdout
}

#[test]
fn docs_syscalls_md_is_current() {
    let generated = moat_syscalls("markdown");
    let path = workspace_root().join("docs/syscalls.md");
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "{} is stale: run `make docs` (or `moat syscalls --format markdown > docs/syscalls.md`)",
        path.display()
    );
}

#[test]
fn text_and_markdown_tables_agree() {
    let text = moat_syscalls("text");
    let md = moat_syscalls("markdown");
    let rows: Vec<&str> = md
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| #"))
        .collect();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(rows.len(), lines.len(), "row counts differ");
    assert!(
        lines.len() > 300,
        "the table lists {} syscalls",
        lines.len()
    );
    for (t, m) in lines.iter().zip(&rows) {
        let f: Vec<&str> = t.split('\t').collect();
        assert_eq!(f.len(), 4, "bad text row {t:?}");
        let want = format!(
            "| {} | `{}` | {} | {} |",
            f[0],
            f[1],
            f[2],
            f[3].replace('|', "\\|")
        );
        assert_eq!(*m, want);
        assert!(
            ["full", "partial", "refused", "unsupported"].contains(&f[2]),
            "unknown support level in {t:?}"
        );
    }
    // a few anchors: the table is the real dispatch table, not a list of names
    for (name, level) in [("openat", "full"), ("getpid", "full"), ("mount", "refused")] {
        assert!(
            lines
                .iter()
                .any(|l| l.split('\t').nth(1) == Some(name) && l.split('\t').nth(2) == Some(level)),
            "{name} is not {level}"
        );
    }
}
