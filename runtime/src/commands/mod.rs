//! One module per command. [`dispatch`] runs the parsed command line.

pub mod boot;
pub mod create;
pub mod delete;
pub mod events;
pub mod exec;
pub mod features;
pub mod kill;
pub mod list;
pub mod pause;
pub mod ps;
pub mod run;
pub mod spec;
pub mod start;
pub mod state;
pub mod update;

use std::path::PathBuf;

use sentry::SentryOptions;

use crate::cli::{Command, GlobalOpts, OverlayMode, SyscallsFormat};
use crate::error::{Error, Result};

/// What every command needs from the global flags.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub global: GlobalOpts,
    /// `--root`, made absolute.
    pub root: PathBuf,
}

impl Ctx {
    pub fn new(global: GlobalOpts) -> Result<Ctx> {
        let root = std::path::absolute(&global.root)
            .map_err(|e| Error::io(format!("--root {}", global.root.display()), e))?;
        Ok(Ctx { global, root })
    }

    /// The sentry's tunables from moat's own flags.
    pub fn sentry_options(&self) -> SentryOptions {
        let mut o = SentryOptions::default();
        if let Some(r) = &self.global.uname_release {
            o.uname_release = r.clone();
        }
        if let Some(m) = self.global.overlay {
            o.overlay = m == OverlayMode::Memory;
        }
        if let Some(p) = self.global.pin_cpu {
            o.pin_cpu = Some(p);
        }
        if let Some(p) = self.global.platform {
            o.platform = p.into();
        }
        if let Some(p) = self.global.syscall_patch {
            o.syscall_patch = p;
        }
        o
    }

    /// The global flags to hand to a `moat boot` child, in command-line form.
    pub fn boot_global_args(&self) -> Vec<String> {
        let g = &self.global;
        let mut v = vec![
            "--root".to_string(),
            self.root.to_string_lossy().into_owned(),
        ];
        if let Some(l) = &g.log {
            let abs = std::path::absolute(l).unwrap_or_else(|_| l.clone());
            v.push("--log".into());
            v.push(abs.to_string_lossy().into_owned());
        }
        v.push("--log-format".into());
        v.push(match g.log_format {
            crate::logging::LogFormat::Text => "text".into(),
            crate::logging::LogFormat::Json => "json".into(),
        });
        if g.debug {
            v.push("--debug".into());
        }
        if let Some(m) = g.overlay {
            v.push(format!(
                "--overlay={}",
                if m == OverlayMode::Memory {
                    "memory"
                } else {
                    "none"
                }
            ));
        }
        if let Some(r) = &g.uname_release {
            v.push("--uname-release".into());
            v.push(r.clone());
        }
        if let Some(p) = g.pin_cpu {
            v.push("--pin-cpu".into());
            v.push(p.to_string());
        }
        if let Some(p) = g.platform {
            v.push(format!(
                "--platform={}",
                sentry::platform::Kind::from(p).name()
            ));
        }
        if let Some(p) = g.syscall_patch {
            v.push(format!("--syscall-patch={p}"));
        }
        v
    }
}

/// Runs a command; returns the process exit code.
pub fn dispatch(ctx: &Ctx, cmd: Command) -> Result<i32> {
    match cmd {
        Command::Create(a) => create::run(ctx, &a).map(|_| 0),
        Command::Start(a) => start::run(ctx, &a.id).map(|_| 0),
        Command::Run(a) => run::run(ctx, &a),
        Command::State(a) => state::run(ctx, &a.id).map(|_| 0),
        Command::Kill(a) => kill::run(ctx, &a).map(|_| 0),
        Command::Delete(a) => delete::run(ctx, &a).map(|_| 0),
        Command::List(a) => list::run(ctx, &a).map(|_| 0),
        Command::Spec(a) => spec::run(&a).map(|_| 0),
        Command::Exec(a) => exec::run(ctx, &a),
        Command::Ps(a) => ps::run(ctx, &a).map(|_| 0),
        Command::Pause(a) => pause::pause(ctx, &a.id).map(|_| 0),
        Command::Resume(a) => pause::resume(ctx, &a.id).map(|_| 0),
        Command::Events(a) => events::run(ctx, &a).map(|_| 0),
        Command::Update(a) => update::run(ctx, &a).map(|_| 0),
        Command::Features => features::run().map(|_| 0),
        Command::Syscalls(a) => {
            use std::io::Write;
            let table = match a.format {
                SyscallsFormat::Text => sentry::syscall_table(),
                SyscallsFormat::Markdown => sentry::syscall_table_markdown(),
            };
            let mut out = std::io::stdout().lock();
            out.write_all(table.as_bytes())
                .map_err(|e| Error::io("write table", e))?;
            Ok(0)
        }
        Command::Boot(a) => Ok(boot::run(ctx, &a)),
    }
}
