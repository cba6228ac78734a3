//! containerd-shim-moat-v1: containerd's runtime v2 shim for moat (runtime_type
//! `io.containerd.moat.v1`). containerd finds it on its PATH and speaks the task API v2 over
//! ttrpc to it; the shim drives the `moat` CLI as containerd's runc shim drives runc, reaps the
//! sandbox processes as their subreaper, and publishes task events. One shim serves a whole
//! Kubernetes pod (see annotations.rs). docs/containerd.md describes setup and options.

mod annotations;
mod cgroup;
mod error;
mod events;
mod exits;
mod io;
mod moat;
mod mount;
mod options;
mod service;
mod shim;

pub const RUNTIME_ID: &str = "io.containerd.moat.v1";
pub const VERSION_STRING: &str = concat!("moat-shim ", env!("CARGO_PKG_VERSION"));

fn main() {
    // containerd_shim's bootstrap needs containerd's environment before it looks at flags, so
    // the version is answered here (go flag style: -v, -version, --version).
    if std::env::args()
        .skip(1)
        .any(|a| matches!(a.as_str(), "-v" | "--v" | "-version" | "--version"))
    {
        println!(
            "containerd-shim-moat-v1:\n  Version:  {}\n  Runtime:  {RUNTIME_ID}\n  Task API: containerd.task.v2",
            env!("CARGO_PKG_VERSION")
        );
        return;
    }
    let config = containerd_shim::Config {
        default_log_level: "info".to_string(),
        ..Default::default()
    };
    containerd_shim::run::<shim::MoatShim>(RUNTIME_ID, Some(config));
}
