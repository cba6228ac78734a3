//! Logging as runc does it: logrus-shaped lines (`time="..." level=... msg="..."` or, with
//! `--log-format json`, `{"level":"...","msg":"...","time":"..."}`) to `--log` or stderr.
//!
//! containerd's runc shim reads the last `"level":"error"` record of the json log to learn why a
//! command failed, so every record must be one json object per line with an RFC 3339 `time`.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Mutex;
use std::time::SystemTime;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::EnvFilter;

use crate::error::{Error, Result};
use crate::time::rfc3339_nano;

/// `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// Where this process's log goes, remembered so errors can also be shown on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sink {
    Stderr,
    File,
}

/// Installs the global subscriber. `file` = None logs to stderr. The level is `warn`, or `debug`
/// with `--debug`; the `MOAT_LOG` environment variable (an `EnvFilter`) overrides both.
pub fn init(file: Option<&Path>, format: LogFormat, debug: bool) -> Result<Sink> {
    let filter = EnvFilter::try_from_env("MOAT_LOG")
        .unwrap_or_else(|_| EnvFilter::new(if debug { "debug" } else { "warn" }));
    let fmt = LogrusFormat {
        json: format == LogFormat::Json,
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .event_format(fmt);
    let (result, sink) = match file {
        Some(path) => {
            let f = open_log(path)?;
            (
                builder.with_writer(Mutex::new(Quiet(f))).try_init(),
                Sink::File,
            )
        }
        None => (
            builder.with_writer(|| Quiet(std::io::stderr())).try_init(),
            Sink::Stderr,
        ),
    };
    result.map_err(|e| Error::Other(format!("set up logging: {e}")))?;
    Ok(sink)
}

/// A log writer that never fails: a closed stderr or a full disk must not stop moat (the
/// subscriber would otherwise report the failure on stderr, and printing to a closed stderr
/// panics).
struct Quiet<W: Write>(W);

impl<W: Write> Write for Quiet<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let _ = self.0.write_all(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let _ = self.0.flush();
        Ok(())
    }
}

/// Opens a log file for appending (every record is one `write`, so concurrent writers from
/// several moat processes interleave whole lines).
pub fn open_log(path: &Path) -> Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o644)
        .custom_flags(libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| Error::io(format!("open log file {}", path.display()), e))
}

/// Reports a command's failure: an `error` record in the log and, when the log is a file, the
/// bare message on stderr too (as runc does). Always exactly one line on stderr.
pub fn report_error(sink: Option<Sink>, msg: &str) {
    let msg = one_line(msg);
    match sink {
        Some(sink) => {
            tracing::error!("{msg}");
            if sink == Sink::File {
                let _ = writeln!(std::io::stderr(), "{msg}");
            }
        }
        None => {
            let _ = writeln!(std::io::stderr(), "{}", text_line("error", &msg, &[]));
        }
    }
}

/// Joins the lines of a multi-line message.
pub fn one_line(msg: &str) -> String {
    msg.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// logrus text: `time="..." level=error msg="..." key=value`.
fn text_line(level: &str, msg: &str, fields: &[(String, String)]) -> String {
    let mut s = format!(
        "time=\"{}\" level={level} msg={}",
        rfc3339_nano(SystemTime::now()),
        quote(msg)
    );
    for (k, v) in fields {
        s.push(' ');
        s.push_str(k);
        s.push('=');
        s.push_str(&quote_if_needed(v));
    }
    s
}

fn quote(s: &str) -> String {
    // serde_json's string escaping is Go's %q for everything printable.
    serde_json::to_string(s).unwrap_or_else(|_| String::from("\"\""))
}

fn quote_if_needed(s: &str) -> String {
    let plain = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._/@^+:".contains(&b));
    if plain {
        s.to_string()
    } else {
        quote(s)
    }
}

fn level_name(l: &Level) -> &'static str {
    match *l {
        Level::ERROR => "error",
        Level::WARN => "warning",
        Level::INFO => "info",
        Level::DEBUG => "debug",
        Level::TRACE => "trace",
    }
}

struct LogrusFormat {
    json: bool,
}

#[derive(Default)]
struct Fields {
    msg: String,
    rest: Vec<(String, serde_json::Value)>,
}

impl Fields {
    fn put(&mut self, field: &Field, v: serde_json::Value) {
        if field.name() == "message" {
            self.msg = match v {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            };
        } else {
            self.rest.push((field.name().to_string(), v));
        }
    }
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, value.into());
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, value.into());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, value.into());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, value.into());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, format!("{value:?}").into());
    }
}

/// A field value as logrus text shows it.
fn text_value(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl<S, N> FormatEvent<S, N> for LogrusFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut f = Fields::default();
        event.record(&mut f);
        let level = level_name(event.metadata().level());
        let msg = one_line(&f.msg);
        if self.json {
            let mut obj = serde_json::Map::new();
            for (k, v) in f.rest {
                obj.insert(k, v);
            }
            obj.insert("level".into(), level.into());
            obj.insert("msg".into(), msg.into());
            obj.insert("time".into(), rfc3339_nano(SystemTime::now()).into());
            let line = serde_json::to_string(&obj).map_err(|_| fmt::Error)?;
            writeln!(w, "{line}")
        } else {
            let rest: Vec<(String, String)> = f
                .rest
                .iter()
                .map(|(k, v)| (k.clone(), text_value(v)))
                .collect();
            writeln!(w, "{}", text_line(level, &msg, &rest))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_lines() {
        let l = text_line(
            "error",
            "container \"x\" does not exist",
            &[("pid".into(), "12".into())],
        );
        assert!(l.starts_with("time=\""));
        assert!(
            l.ends_with(" level=error msg=\"container \\\"x\\\" does not exist\" pid=12"),
            "{l}"
        );
        assert_eq!(one_line("a\n  b\n\nc"), "a b c");
        assert_eq!(quote_if_needed("a b"), "\"a b\"");
    }
}
