//! The moat runtime: a runc-compatible command line that boots each container in its own
//! sandbox process, where the sentry (a user-space kernel) runs the workload.
//!
//! `moat create` checks the bundle and clones the sandbox process (`moat boot`, pid 1 of new
//! namespaces), which boots the sentry and waits on `<root>/<id>/control.sock`; `start` releases
//! it; `state`, `kill`, `delete` and `list` read and act on `<root>/<id>/state.json`. A pod's
//! app containers join the pod sandbox's sentry instead (pod.rs).

pub mod bundle;
pub mod cgroups;
pub mod cli;
pub mod commands;
pub mod container_id;
pub mod control;
pub mod error;
pub mod features;
pub mod hooks;
pub mod logging;
pub mod passwd;
pub mod pod;
pub mod signal;
pub mod spawn;
pub mod state;
pub mod time;
pub mod tty;

pub use error::{Error, Result};
