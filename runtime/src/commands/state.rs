//! `moat state`: the OCI state as JSON, shaped like `runc state`.

use std::io::Write;

use crate::commands::Ctx;
use crate::error::{Error, Result};
use crate::state::Container;

pub fn run(ctx: &Ctx, id: &str) -> Result<()> {
    // state.json is replaced atomically, so reading needs no lock.
    let c = Container::load(&ctx.root, id)?;
    let json = serde_json::to_string_pretty(&c.oci_state(String::new()))
        .map_err(|e| Error::Other(format!("encode state: {e}")))?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{json}").map_err(|e| Error::io("write state", e))
}
