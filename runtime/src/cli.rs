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
    /// cgroupsPath is systemd's slice:prefix:name (moat writes the cgroup itself, without
    /// asking systemd)
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
    /// How the sandbox intercepts syscalls: "systrap" (seccomp traps served through shared
    /// memory) or "ptrace" (PTRACE_SYSEMU), as runsc spells it
    #[arg(
        long,
        global = true,
        value_enum,
        value_name = "PLATFORM",
        env = "MOAT_PLATFORM"
    )]
    pub platform: Option<PlatformKind>,
    /// Under systrap, rewrite `mov $nr, %eax; syscall` sites the sandbox traps on into jumps
    /// that enter the sentry without a signal (true|false; default true)
    #[arg(
        long = "syscall-patch",
        global = true,
        value_name = "BOOL",
        env = "MOAT_SYSCALL_PATCH",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub syscall_patch: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlatformKind {
    Ptrace,
    Systrap,
}

impl From<PlatformKind> for sentry::platform::Kind {
    fn from(p: PlatformKind) -> Self {
        match p {
            PlatformKind::Ptrace => sentry::platform::Kind::Ptrace,
            PlatformKind::Systrap => sentry::platform::Kind::Systrap,
        }
    }
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
    /// Run a new process inside a running container
    Exec(ExecArgs),
    /// List the container's processes (the sandbox's own, virtual pids)
    Ps(PsArgs),
    /// Freeze every process of the container
    Pause(IdArg),
    /// Thaw a paused container
    Resume(IdArg),
    /// Print the container's resource usage (and OOM events) as JSON
    Events(EventsArgs),
    /// Change the container's resource limits
    Update(UpdateArgs),
    /// Print what this runtime supports (OCI features JSON)
    Features,
    /// Print the sentry's syscall table: number, name, support level, note
    Syscalls(SyscallsArgs),
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
    /// Run the container in this pod sandbox's sentry (moat's; containerd's CRI annotations
    /// select it by themselves)
    #[arg(long, value_name = "SANDBOX_ID")]
    pub sandbox: Option<String>,
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SyscallsFormat {
    /// number, name, support, note: tab-separated, one syscall per line
    Text,
    /// the docs/syscalls.md page
    Markdown,
}

#[derive(Debug, Clone, Args)]
pub struct SyscallsArgs {
    #[arg(short = 'f', long, value_enum, default_value_t = SyscallsFormat::Text)]
    pub format: SyscallsFormat,
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
pub struct ExecArgs {
    /// Unix socket to send the terminal's master fd to (with --tty --detach)
    #[arg(long = "console-socket", value_name = "PATH")]
    pub console_socket: Option<PathBuf>,
    /// Working directory inside the container
    #[arg(long, value_name = "DIR")]
    pub cwd: Option<String>,
    /// Add an environment variable (KEY=VALUE)
    #[arg(short = 'e', long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// Allocate a pseudo-terminal
    #[arg(short = 't', long)]
    pub tty: bool,
    /// UID[:GID]
    #[arg(short = 'u', long, value_name = "UID[:GID]")]
    pub user: Option<String>,
    /// Additional group ids
    #[arg(short = 'g', long = "additional-gids", value_name = "GID")]
    pub additional_gids: Vec<u32>,
    /// The process to run, as OCI process JSON
    #[arg(short = 'p', long, value_name = "FILE")]
    pub process: Option<PathBuf>,
    /// Return once the process started; a host process stands for it (see --pid-file)
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Write the pid of the host process standing for the exec'd process to this file
    #[arg(long = "pid-file", value_name = "FILE")]
    pub pid_file: Option<PathBuf>,
    /// Accepted for compatibility (no SELinux labels in a sandbox)
    #[arg(long = "process-label", value_name = "LABEL")]
    pub process_label: Option<String>,
    /// Accepted for compatibility (no AppArmor profiles in a sandbox)
    #[arg(long, value_name = "PROFILE")]
    pub apparmor: Option<String>,
    /// Set no_new_privs for the process
    #[arg(long = "no-new-privs")]
    pub no_new_privs: bool,
    /// Add a capability to the process
    #[arg(short = 'c', long = "cap", value_name = "CAP")]
    pub cap: Vec<String>,
    /// Pass this many extra fds (3, 4, ...) to the process
    #[arg(long = "preserve-fds", default_value_t = 0, value_name = "N")]
    pub preserve_fds: u32,
    /// Accepted for compatibility (the exec'd process shares the sandbox's cgroup)
    #[arg(long, value_name = "[CONTROLLER:]PATH")]
    pub cgroup: Vec<String>,
    /// Allow exec in a paused container
    #[arg(long = "ignore-paused")]
    pub ignore_paused: bool,
    #[arg(value_name = "CONTAINER_ID")]
    pub id: String,
    /// The command and its arguments
    #[arg(
        value_name = "COMMAND",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub command: Vec<String>,
}

#[derive(Debug, Clone, Args)]
pub struct PsArgs {
    #[arg(short = 'f', long, value_enum, default_value_t = ListFormat::Table)]
    pub format: ListFormat,
    #[arg(value_name = "CONTAINER_ID")]
    pub id: String,
    /// ps(1) options (not supported: moat lists the sandbox's own processes)
    #[arg(
        value_name = "PS_OPTIONS",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub ps_args: Vec<String>,
}

#[derive(Debug, Clone, Args)]
pub struct EventsArgs {
    /// Time between stats reports (Go duration: 5s, 500ms, 1m)
    #[arg(long, default_value = "5s", value_name = "DURATION")]
    pub interval: String,
    /// Print the stats once and exit
    #[arg(long)]
    pub stats: bool,
    #[arg(value_name = "CONTAINER_ID")]
    pub id: String,
}

#[derive(Debug, Clone, Args)]
pub struct UpdateArgs {
    /// linux.resources as JSON, from this file or "-" for stdin
    #[arg(short = 'r', long, value_name = "FILE")]
    pub resources: Option<PathBuf>,
    /// Block IO weight (10..1000)
    #[arg(long = "blkio-weight", value_name = "N")]
    pub blkio_weight: Option<u16>,
    /// CPU CFS period (microseconds)
    #[arg(long = "cpu-period", value_name = "US")]
    pub cpu_period: Option<u64>,
    /// CPU CFS quota (microseconds)
    #[arg(long = "cpu-quota", value_name = "US", allow_negative_numbers = true)]
    pub cpu_quota: Option<i64>,
    /// CPU shares (relative weight)
    #[arg(long = "cpu-share", value_name = "N")]
    pub cpu_share: Option<u64>,
    /// CPU realtime period (microseconds)
    #[arg(long = "cpu-rt-period", value_name = "US")]
    pub cpu_rt_period: Option<u64>,
    /// CPU realtime runtime (microseconds)
    #[arg(
        long = "cpu-rt-runtime",
        value_name = "US",
        allow_negative_numbers = true
    )]
    pub cpu_rt_runtime: Option<i64>,
    /// CPUs allowed (0-3, 0,1)
    #[arg(long = "cpuset-cpus", value_name = "LIST")]
    pub cpuset_cpus: Option<String>,
    /// Memory nodes allowed (0-3, 0,1)
    #[arg(long = "cpuset-mems", value_name = "LIST")]
    pub cpuset_mems: Option<String>,
    /// Kernel memory limit (deprecated)
    #[arg(
        long = "kernel-memory",
        value_name = "BYTES",
        allow_hyphen_values = true
    )]
    pub kernel_memory: Option<String>,
    /// Kernel TCP memory limit (deprecated)
    #[arg(
        long = "kernel-memory-tcp",
        value_name = "BYTES",
        allow_hyphen_values = true
    )]
    pub kernel_memory_tcp: Option<String>,
    /// Memory limit (bytes, or with k/m/g suffix; -1 for none)
    #[arg(long, value_name = "BYTES", allow_hyphen_values = true)]
    pub memory: Option<String>,
    /// Memory soft limit
    #[arg(
        long = "memory-reservation",
        value_name = "BYTES",
        allow_hyphen_values = true
    )]
    pub memory_reservation: Option<String>,
    /// Memory plus swap limit (-1 for none)
    #[arg(long = "memory-swap", value_name = "BYTES", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Maximum number of tasks (0 or -1 for none)
    #[arg(long = "pids-limit", value_name = "N", allow_negative_numbers = true)]
    pub pids_limit: Option<i64>,
    /// Intel RDT L3 cache schema (not supported)
    #[arg(long = "l3-cache-schema", value_name = "SCHEMA")]
    pub l3_cache_schema: Option<String>,
    /// Intel RDT memory bandwidth schema (not supported)
    #[arg(long = "mem-bw-schema", value_name = "SCHEMA")]
    pub mem_bw_schema: Option<String>,
    #[arg(value_name = "CONTAINER_ID")]
    pub id: String,
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
    /// Our end of the placement socket: once the stubs exist, boot says so and waits until
    /// `create` has put this process and its stubs in the cgroups (see spawn::spawn_boot).
    #[arg(long = "placement-fd")]
    pub placement_fd: Option<i32>,
    /// Fds 3 .. 3+N (those open) become the workload's own fds 3 .. 3+N.
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: u32,
    /// The first N of those are systemd socket activation fds: the workload's environment gets
    /// LISTEN_FDS=N and LISTEN_PID=1, as with runc.
    #[arg(long = "listen-fds", default_value_t = 0)]
    pub listen_fds: u32,
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
            &["exec", "x", "sh", "-c", "echo"],
            &[
                "exec",
                "-t",
                "-d",
                "--pid-file",
                "p",
                "--console-socket",
                "s",
                "x",
                "ls",
            ],
            &["exec", "-p", "proc.json", "x"],
            &["ps", "x"],
            &["ps", "-f", "json", "x"],
            &["pause", "x"],
            &["resume", "x"],
            &["events", "--stats", "x"],
            &["events", "--interval", "1s", "x"],
            &["update", "--memory", "1m", "--pids-limit", "-1", "x"],
            &["update", "-r", "-", "x"],
            &["features"],
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
    fn exec_command_keeps_its_flags() {
        let c = parse(&["exec", "-e", "A=1", "-u", "5:6", "x", "ls", "-l", "--debug"]).unwrap();
        let Some(Command::Exec(e)) = c.command else {
            panic!()
        };
        assert_eq!(e.id, "x");
        assert_eq!(e.command, ["ls", "-l", "--debug"]);
        assert_eq!(e.env, ["A=1"]);
        assert_eq!(e.user.as_deref(), Some("5:6"));
        assert!(!c.global.debug);
    }

    #[test]
    fn usage_errors() {
        assert!(parse(&["kill"]).is_err());
        assert!(parse(&["state"]).is_err());
        assert!(parse(&["create", "--bogus", "x"]).is_err());
        assert!(parse(&["list", "--format", "yaml"]).is_err());
    }
}
