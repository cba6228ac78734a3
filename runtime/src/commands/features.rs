//! `moat features`: the OCI features document (see [`crate::features`]).

use std::io::Write;

use crate::error::{Error, Result};

pub fn run() -> Result<()> {
    let s = serde_json::to_string_pretty(&crate::features::document())
        .map_err(|e| Error::Other(format!("encode features: {e}")))?;
    writeln!(std::io::stdout().lock(), "{s}").map_err(|e| Error::io("write features", e))
}
