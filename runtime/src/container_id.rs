//! Container id validation: ids become directory names under `--root`, so they must never
//! name anything outside it.

use crate::error::{Error, Result};

/// Longest id accepted (runc has no fixed limit; 1024 keeps paths sane).
pub const MAX_ID_LEN: usize = 1024;

/// Accepts ids made of `[A-Za-z0-9_+-.]`, 1..=1024 bytes, other than `.` and `..`.
pub fn validate(id: &str) -> Result<()> {
    let bad = |reason| {
        Err(Error::InvalidId {
            id: shorten(id),
            reason,
        })
    };
    if id.is_empty() {
        return bad("must not be empty");
    }
    if id.len() > MAX_ID_LEN {
        return bad("longer than 1024 bytes");
    }
    if id == "." || id == ".." {
        return bad("must not be \".\" or \"..\"");
    }
    if id.contains('/') {
        return bad("must not contain '/'");
    }
    if !id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'+' | b'-' | b'.'))
    {
        return bad("may contain only letters, digits, '_', '+', '-' and '.'");
    }
    Ok(())
}

/// Keeps error lines short when someone passes a huge id.
fn shorten(id: &str) -> String {
    if id.len() <= 64 {
        return id.to_string();
    }
    let mut end = 64;
    while !id.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &id[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_good_ids() {
        for id in [
            "a",
            "abc-123",
            "A_b+c.d",
            "x".repeat(1024).as_str(),
            "...",
            "a..b",
        ] {
            assert!(validate(id).is_ok(), "{id}");
        }
    }

    #[test]
    fn rejects_bad_ids() {
        let long = "x".repeat(1025);
        for id in [
            "",
            ".",
            "..",
            "a/b",
            "/",
            "../x",
            "a b",
            "a\nb",
            "é",
            "a:b",
            long.as_str(),
        ] {
            assert!(validate(id).is_err(), "{id:?}");
        }
    }

    #[test]
    fn error_is_one_short_line() {
        let long = "é".repeat(600);
        let msg = validate(&long).unwrap_err().to_string();
        assert!(!msg.contains('\n'));
        assert!(msg.len() < 200, "{msg}");
    }
}
