//! `moat spec`: write a default config.json, the same one `runc spec` writes.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;

use crate::cli::SpecArgs;
use crate::error::{Error, Result};

const DEFAULT: &str = include_str!("spec_default.json");
const ROOTLESS: &str = include_str!("spec_rootless.json");

/// The config.json text; rootless maps the caller's euid/egid to root in the container.
pub fn template(rootless: bool) -> String {
    if !rootless {
        return DEFAULT.to_string();
    }
    // SAFETY: geteuid/getegid cannot fail and touch no memory.
    let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
    ROOTLESS
        .replace("{{UID}}", &uid.to_string())
        .replace("{{GID}}", &gid.to_string())
}

pub fn run(args: &SpecArgs) -> Result<()> {
    let path = args.bundle.join("config.json");
    let mut f = match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o666)
        .open(&path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            return Err(Error::Other(
                "File config.json exists. Remove it first".into(),
            ))
        }
        Err(e) => return Err(Error::io(format!("create {}", path.display()), e)),
    };
    f.write_all(template(args.rootless).as_bytes())
        .map_err(|e| Error::io(format!("write {}", path.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_are_valid_specs() {
        for rootless in [false, true] {
            let spec: oci_spec::runtime::Spec = serde_json::from_str(&template(rootless)).unwrap();
            assert_eq!(
                spec.process().as_ref().unwrap().args().as_ref().unwrap(),
                &["sh"]
            );
        }
    }
}
