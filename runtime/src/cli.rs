//! The command line, shaped like runc's (runc 1.1).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::logging::LogFormat;

pub const DEFAULT_ROOT: &str = "/run/moat";

#[derive(Debug, Parser)]
#[command(
    name = "moat",
    about = "moat: an OCI runtime that runs containers on a user-space kernel",
    disable_version_flag = true,
    subcommand_required = false,
    arg_required_else_help = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalOpts,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// runc's global flags plus moat's own. Accepted before or after the command name.
#[derive(Debug, Clone, Args)]
pub struct GlobalOpts {
    /// Root directory for container state
    #[arg(long, global = true, default_value = DEFAULT_ROOT, value_name = "DIR")]
    pub root: PathBuf,
    /// Log file (default: stderr)
    #[arg(long, global = true, value_name = "FILE")]
    pub log: Option<PathBuf>,
    /// Log format
    #[arg(long = "log-format", global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Debug logging
    #[arg(long, global = true)]
    pub debug: bool,
    /// Use systemd for cgroups (accepted; cgroups are not managed yet)
    #[arg(long = "systemd-cgroup", global = true)]
    pub systemd_cgroup: bool,
    /// Rootless mode: true, false or auto (accepted for compatibility). Only before the command
    /// name, as `spec` has a `--rootless` of its own.
    #[arg(long, value_name = "VALUE")]
    pub rootless: Option<String>,
    /// Path to criu (accepted for compatibility; checkpointing is not supported)
    #[arg(long, global = true, hide = true, value_name = "PATH")]
    pub criu: Option<String>,
    /// Print the version
    #[arg(short = 'v', long, global = true)]
    pub version: bool,
    /// Root filesystem writes: "memory" keeps them in the sandbox (default), "none" writes
    /// through to the bundle like runc
    #[arg(long, global = true, value_enum, value_name = "MODE", num_args = 0..=1,
          require_equals = true, default_missing_value = "memory")]
    pub overlay: Option<OverlayMode>,
    /// Kernel release reported by the sandbox's uname
    #[arg(long = "uname-release", global = true, value_name = "RELEASE")]
    pub uname_release: Option<String>,
    /// Keep the sentry and the workload on one CPU (true|false)
    #[arg(long = "pin-cpu", global = true, value_name = "BOOL")]
    pub pin_cpu: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OverlayMode {
    Memory,
    None,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a container (boot its sandbox; the process waits for `start`)
    Create(CreateArgs),
    /// Start the process of a created container
    Start(IdArg),
    /// Create and start a container, then wait for it (unless --detach)
    Run(RunArgs),
    /// Print the state of a container as JSON
    State(IdArg),
    /// Send a signal to the container's init process (default SIGTERM)
    Kill(KillArgs),
    /// Delete a container and everything it holds
    Delete(DeleteArgs),
    /// List containers
    #[command(alias = "ls")]
    List(ListArgs),
    /// Write a default config.json (a bundle specification)
    Spec(SpecArgs),
    /// Print the sentry's syscall table: number, name, support level, note
    Syscalls,
    /// The sandbox process (internal)
    #[command(hide = true)]
    Boot(BootArgs),
}

#[derive(Debug, Clone, Args)]
pub struct IdArg {
    /// Container id
    #[arg(value_name = "CONTAINER_ID")]
    pub id: String,
}

#[derive(Debug, Clone, Args)]
pub struct CreateArgs {
    /// Bundle directory (holding config.json)
    #[arg(short = 'b', long, default_value = ".", value_name = "DIR")]
    pub bundle: PathBuf,
    /// Write the sandbox's host pid to this file
    #[arg(long = "pid-file", value_name = "FILE")]
    pub pid_file: Option<PathBuf>,
    /// Unix socket to send the terminal's master fd to (process.terminal)
    #[arg(long = "console-socket", value_name = "PATH")]
    pub console_socket: Option<PathBuf>,
    /// Accepted for compatibility (moat never pivots the host root)
    #[arg(long = "no-pivot")]
    pub no_pivot: bool,
    /// Accepted for compatibility (the sandbox has no host session keyring)
    #[arg(long = "no-new-keyring")]
    pub no_new_keyring: bool,
    /// Pass this many extra fds (3, 4, ...) to the container
    #[arg(long = "preserve-fds", default_value_t = 0, value_name = "N")]
    pub preserve_fds: u32,
    #[arg(value_name = "CONTAINER_ID")]
    pub id: String,
}

#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub create: CreateArgs,
    /// Return after starting the container
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Keep the container's state after it exits
    #[arg(long)]
    pub keep: bool,
    /// Accepted for compatibility
    #[arg(long = "no-subreaper")]
    pub no_subreaper: bool,
}

#[derive(Debug, Clone, Args)]
pub struct KillArgs {
    /// Send the signal to every process of the container
    #[arg(short = 'a', long)]
    pub all: bool,
    #[arg(value_name = "CONTAINER_ID")]
    pub id: String,
    /// Signal name or number
    #[arg(value_name = "SIGNAL", default_value = "SIGTERM")]
    pub signal: String,
}

#[derive(Debug, Clone, Args)]
pub struct DeleteArgs {
    /// Kill the container first if it is running; succeed if it does not exist
    #[arg(short = 'f', long)]
    pub force: bool,
    #[arg(value_name = "CONTAINER_ID")]
    pub id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    Table,
    Json,
}

#[derive(Debug, Clone, Args)]
pub struct ListArgs {
    #[arg(short = 'f', long, value_enum, default_value_t = ListFormat::Table)]
    pub format: ListFormat,
    /// Print only the ids
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

#[derive(Debug, Clone, Args)]
pub struct SpecArgs {
    /// Directory to write config.json into
    #[arg(short = 'b', long, default_value = ".", value_name = "DIR")]
    pub bundle: PathBuf,
    /// A spec for a rootless container
    #[arg(long = "rootless", id = "spec_rootless")]
    pub rootless: bool,
}

#[derive(Debug, Clone, Args)]
pub struct BootArgs {
    #[arg(long)]
    pub id: String,
    #[arg(long)]
    pub bundle: PathBuf,
    /// Write end of the ready pipe.
    #[arg(long = "ready-fd")]
    pub ready_fd: i32,
    /// The control socket's listening socket.
    #[arg(long = "control-fd")]
    pub control_fd: i32,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("moat").chain(args.iter().copied()))
    }

    #[test]
    fn definition_is_valid() {
        Cli::command().debug_assert();
    }

    #[test]
    fn runc_style_invocations() {
        let c = parse(&[
            "--root",
            "/r",
            "--log",
            "/l",
            "--log-format",
            "json",
            "create",
            "--bundle",
            "/b",
            "--pid-file",
            "/p",
            "--console-socket",
            "/s",
            "--no-pivot",
            "--no-new-keyring",
            "--preserve-fds",
            "2",
            "id1",
        ])
        .unwrap();
        assert_eq!(c.global.root, PathBuf::from("/r"));
        assert_eq!(c.global.log_format, LogFormat::Json);
        let Some(Command::Create(a)) = c.command else {
            panic!()
        };
        assert_eq!((a.id.as_str(), a.preserve_fds), ("id1", 2));

        let c = parse(&["kill", "--all", "x", "KILL"]).unwrap();
        let Some(Command::Kill(k)) = c.command else {
            panic!()
        };
        assert!(k.all);
        assert_eq!(k.signal, "KILL");
        let c = parse(&["kill", "x"]).unwrap();
        let Some(Command::Kill(k)) = c.command else {
            panic!()
        };
        assert_eq!(k.signal, "SIGTERM");

        let c = parse(&["run", "-d", "-b", "/b", "x", "--debug"]).unwrap();
        assert!(c.global.debug);
        let Some(Command::Run(r)) = c.command else {
            panic!()
        };
        assert!(r.detach);
        assert_eq!(r.create.bundle, PathBuf::from("/b"));

        let c = parse(&[
            "--systemd-cgroup",
            "--rootless",
            "false",
            "--overlay",
            "delete",
            "-f",
            "x",
        ])
        .unwrap();
        assert_eq!(c.global.overlay, Some(OverlayMode::Memory));
        let c = parse(&["--overlay=none", "list", "-q"]).unwrap();
        assert_eq!(c.global.overlay, Some(OverlayMode::None));
        assert!(parse(&["-v"]).unwrap().global.version);
    }

    /// Every command parses (clap checks argument types only when matches are read).
    #[test]
    fn every_command_parses() {
        let cases: &[&[&str]] = &[
            &["create", "x"],
            &["start", "x"],
            &["run", "x"],
            &["state", "x"],
            &["kill", "x", "9"],
            &["delete", "x"],
            &["list"],
            &["ls", "-q"],
            &["spec"],
            &["spec", "--rootless", "-b", "/b"],
            &["--rootless", "true", "spec", "--rootless"],
            &["syscalls"],
            &[
                "boot",
                "--id",
                "x",
                "--bundle",
                "/b",
                "--ready-fd",
                "5",
                "--control-fd",
                "6",
            ],
        ];
        for c in cases {
            let cli = parse(c).unwrap_or_else(|e| panic!("{c:?}: {e}"));
            assert!(cli.command.is_some(), "{c:?}");
        }
        let c = parse(&["--rootless", "auto", "spec", "--rootless"]).unwrap();
        assert_eq!(c.global.rootless.as_deref(), Some("auto"));
        let Some(Command::Spec(s)) = c.command else {
            panic!()
        };
        assert!(s.rootless);
    }

    #[test]
    fn usage_errors() {
        assert!(parse(&["kill"]).is_err());
        assert!(parse(&["state"]).is_err());
        assert!(parse(&["create", "--bogus", "x"]).is_err());
        assert!(parse(&["list", "--format", "yaml"]).is_err());
    }
}
