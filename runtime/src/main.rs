//! The `moat` binary: parse the command line, set up logging, run the command, and turn every
//! error into one line on stderr and exit status 1.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use moat_runtime::cli::{Cli, Command};
use moat_runtime::commands::{self, Ctx};
use moat_runtime::logging;

fn main() -> ExitCode {
    ensure_stdio();
    one_line_panics();
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => return usage_error(e),
    };
    if cli.global.version {
        let _ = writeln!(
            std::io::stdout(),
            "moat version {}\nspec: {}",
            env!("CARGO_PKG_VERSION"),
            oci_spec::runtime::version()
        );
        return ExitCode::SUCCESS;
    }
    let Some(command) = cli.command else {
        logging::report_error(None, "no command given (see moat --help)");
        return ExitCode::FAILURE;
    };
    code(run(cli.global, command))
}

fn run(global: moat_runtime::cli::GlobalOpts, command: Command) -> anyhow::Result<i32> {
    if let Command::Boot(args) = &command {
        // The sandbox process sets up its own logging: its stderr is the workload's.
        let ctx = Ctx::new(global)?;
        return Ok(commands::boot::run(&ctx, args));
    }
    let sink = match logging::init(global.log.as_deref(), global.log_format, global.debug) {
        Ok(s) => s,
        Err(e) => {
            logging::report_error(None, &e.to_string());
            return Ok(1);
        }
    };
    let result = Ctx::new(global).and_then(|ctx| commands::dispatch(&ctx, command));
    match result {
        Ok(code) => Ok(code),
        Err(e) => {
            logging::report_error(Some(sink), &e.to_string());
            Ok(e.exit_code())
        }
    }
}

fn code(r: anyhow::Result<i32>) -> ExitCode {
    match r {
        Ok(c) => ExitCode::from(c.clamp(0, 255) as u8),
        Err(e) => {
            logging::report_error(None, &format!("{e:#}"));
            ExitCode::FAILURE
        }
    }
}

/// clap's errors: help and version go to stdout (exit 0); usage errors become one line.
fn usage_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
        _ => {
            let text = e.render().to_string();
            let first: Vec<&str> = text
                .lines()
                .map(str::trim)
                .take_while(|l| {
                    !l.is_empty()
                        && !l.starts_with("Usage:")
                        && !l.starts_with("For more information")
                })
                .collect();
            let msg = first.join(" ");
            let msg = msg.strip_prefix("error: ").unwrap_or(&msg);
            logging::report_error(None, &format!("{msg} (see moat --help)"));
            ExitCode::FAILURE
        }
    }
}

/// Makes sure fds 0, 1 and 2 are open (on /dev/null if not), so no file we open later lands on
/// them and becomes the workload's stdio by accident.
fn ensure_stdio() {
    for fd in 0..3 {
        // SAFETY: F_GETFD only queries the descriptor.
        if unsafe { libc::fcntl(fd, libc::F_GETFD) } == -1 {
            // SAFETY: opening /dev/null with a static C string; the lowest free fd is `fd`.
            unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR) };
        }
    }
}

/// A bug must still give one line on stderr (and in the log), not a multi-line report, unless
/// RUST_BACKTRACE asks for one.
fn one_line_panics() {
    if std::env::var_os("RUST_BACKTRACE").is_some() {
        return;
    }
    std::panic::set_hook(Box::new(|info| {
        let msg = logging::one_line(&format!("internal error: {info}"));
        tracing::error!("{msg}");
        let _ = writeln!(std::io::stderr(), "moat: {msg}");
    }));
}
