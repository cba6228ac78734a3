//! The moat command line, driven the way containerd's runc shim drives runc: global flags
//! (`--root`, `--log FILE --log-format json`, the options' flags), then the command.

use std::ffi::OsString;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::annotations::Launch;
use crate::error::{Error, Result};
use crate::exits;
use crate::options::ShimOptions;

/// `moat create` waits up to 120 s for the sandbox to boot; leave it room to say why.
const CREATE_TIMEOUT: Duration = Duration::from_secs(150);
const EXEC_TIMEOUT: Duration = Duration::from_secs(60);
const DELETE_TIMEOUT: Duration = Duration::from_secs(60);
const OTHER_TIMEOUT: Duration = Duration::from_secs(30);

/// The three fds a container process gets as stdin, stdout and stderr.
pub struct ChildStdio {
    pub stdin: Stdio,
    pub stdout: Stdio,
    pub stderr: Stdio,
}

#[derive(Debug, Clone)]
pub struct Moat {
    binary: String,
    root: PathBuf,
    log: PathBuf,
    flags: Vec<String>,
}

impl Moat {
    pub fn new(opts: &ShimOptions, namespace: &str, id: &str, bundle: &Path) -> Moat {
        Moat {
            binary: opts.binary().to_string(),
            root: opts.root_for(namespace),
            log: opts.log_for(id, bundle),
            flags: opts.global_flags(),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn command(&self, args: &[OsString]) -> Command {
        let mut c = Command::new(&self.binary);
        c.arg("--root")
            .arg(&self.root)
            .arg("--log")
            .arg(&self.log)
            .args(&self.flags)
            .args(args)
            .stdin(Stdio::null());
        c
    }

    /// The size of the log file now: errors logged after it belong to the next command.
    fn log_offset(&self) -> u64 {
        std::fs::metadata(&self.log).map(|m| m.len()).unwrap_or(0)
    }

    /// The message of the last error record moat logged after `offset`.
    fn logged_error(&self, offset: u64) -> Option<String> {
        let mut f = std::fs::File::open(&self.log).ok()?;
        f.seek(SeekFrom::Start(offset)).ok()?;
        let mut b = Vec::new();
        f.read_to_end(&mut b).ok()?;
        String::from_utf8_lossy(&b)
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v["level"] == "error")
            .filter_map(|v| v["msg"].as_str().map(str::to_string))
            .last()
    }

    /// Runs `moat <args>`; `stdio` None captures stdout/stderr (stdout is returned), else the
    /// command gets the container's stdio and its error comes from the log.
    fn run(
        &self,
        name: &str,
        args: Vec<OsString>,
        input: Option<&[u8]>,
        stdio: Option<ChildStdio>,
        timeout: Duration,
    ) -> Result<String> {
        let mut cmd = self.command(&args);
        let capture = stdio.is_none();
        if let Some(s) = stdio {
            cmd.stdin(s.stdin).stdout(s.stdout).stderr(s.stderr);
        }
        let offset = self.log_offset();
        log::debug!("running {:?}", cmd);
        let done = exits::run(cmd, input, capture, timeout).map_err(|e| Error::Moat {
            cmd: name.to_string(),
            msg: format!("cannot run {}: {e}", self.binary),
        })?;
        if done.code == 0 && !done.timed_out {
            return Ok(done.stdout);
        }
        let msg = if done.timed_out {
            format!("timed out after {}s", timeout.as_secs())
        } else {
            done.stderr
                .lines()
                .rev()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .map(str::to_string)
                .or_else(|| self.logged_error(offset))
                .unwrap_or_else(|| format!("exit status {}", done.code))
        };
        Err(Error::Moat {
            cmd: name.to_string(),
            msg,
        })
    }

    pub fn create(
        &self,
        id: &str,
        bundle: &Path,
        pid_file: &Path,
        console_socket: Option<&Path>,
        launch: &Launch,
        stdio: ChildStdio,
    ) -> Result<()> {
        let mut a: Vec<OsString> = vec!["create".into(), "--bundle".into(), bundle.into()];
        a.extend(["--pid-file".into(), pid_file.into()]);
        if let Some(s) = console_socket {
            a.extend(["--console-socket".into(), s.into()]);
        }
        if let Launch::InSandbox(sandbox) = launch {
            a.extend(["--sandbox".into(), sandbox.into()]);
        }
        a.push(id.into());
        self.run("create", a, None, Some(stdio), CREATE_TIMEOUT)
            .map(drop)
    }

    pub fn start(&self, id: &str) -> Result<()> {
        self.run(
            "start",
            vec!["start".into(), id.into()],
            None,
            None,
            OTHER_TIMEOUT,
        )
        .map(drop)
    }

    pub fn kill(&self, id: &str, signal: u32, all: bool) -> Result<()> {
        let mut a: Vec<OsString> = vec!["kill".into()];
        if all {
            a.push("--all".into());
        }
        a.extend([id.into(), signal.to_string().into()]);
        self.run("kill", a, None, None, OTHER_TIMEOUT).map(drop)
    }

    pub fn delete(&self, id: &str, force: bool) -> Result<()> {
        let mut a: Vec<OsString> = vec!["delete".into()];
        if force {
            a.push("--force".into());
        }
        a.push(id.into());
        self.run("delete", a, None, None, DELETE_TIMEOUT).map(drop)
    }

    /// The workload's (virtual) pids.
    pub fn ps(&self, id: &str) -> Result<Vec<u32>> {
        let out = self.run(
            "ps",
            vec!["ps".into(), "--format".into(), "json".into(), id.into()],
            None,
            None,
            OTHER_TIMEOUT,
        )?;
        parse_ps(&out).map_err(|msg| Error::Moat {
            cmd: "ps".into(),
            msg,
        })
    }

    pub fn pause(&self, id: &str) -> Result<()> {
        self.run(
            "pause",
            vec!["pause".into(), id.into()],
            None,
            None,
            OTHER_TIMEOUT,
        )
        .map(drop)
    }

    pub fn resume(&self, id: &str) -> Result<()> {
        self.run(
            "resume",
            vec!["resume".into(), id.into()],
            None,
            None,
            OTHER_TIMEOUT,
        )
        .map(drop)
    }

    /// `moat update --resources -`: OCI `linux.resources` JSON on stdin, as containerd sends it.
    pub fn update(&self, id: &str, resources: &[u8]) -> Result<()> {
        let a = vec!["update".into(), "--resources".into(), "-".into(), id.into()];
        self.run("update", a, Some(resources), None, OTHER_TIMEOUT)
            .map(drop)
    }

    /// `moat exec --process F --detach --pid-file P [--console-socket S] ID`.
    pub fn exec(
        &self,
        id: &str,
        process: &Path,
        pid_file: &Path,
        console_socket: Option<&Path>,
        stdio: ChildStdio,
    ) -> Result<()> {
        let mut a: Vec<OsString> = vec![
            "exec".into(),
            "--process".into(),
            process.into(),
            "--detach".into(),
            "--pid-file".into(),
            pid_file.into(),
        ];
        if let Some(s) = console_socket {
            a.extend(["--tty".into(), "--console-socket".into(), s.into()]);
        }
        a.push(id.into());
        self.run("exec", a, None, Some(stdio), EXEC_TIMEOUT)
            .map(drop)
    }
}

/// `moat ps --format json`: a JSON array of pids, or `null` for a stopped container.
fn parse_ps(out: &str) -> std::result::Result<Vec<u32>, String> {
    let v: Option<Vec<u32>> =
        serde_json::from_str(out.trim()).map_err(|e| format!("unexpected output {out:?}: {e}"))?;
    Ok(v.unwrap_or_default())
}

/// Reads a pid file moat wrote.
pub fn read_pid(path: &Path) -> Result<u32> {
    let s = std::fs::read_to_string(path).map_err(Error::io(format!("read {}", path.display())))?;
    s.trim()
        .parse::<u32>()
        .ok()
        .filter(|&p| p > 0)
        .ok_or_else(|| Error::Other(format!("pid file {}: {s:?} is not a pid", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ps_output() {
        assert_eq!(parse_ps("[1,7,12]\n").unwrap(), vec![1, 7, 12]);
        assert_eq!(parse_ps("null\n").unwrap(), Vec::<u32>::new());
        assert!(parse_ps("UID PID").is_err());
    }

    #[test]
    fn command_line() {
        let o = ShimOptions {
            debug: true,
            ..Default::default()
        };
        let m = Moat::new(&o, "k8s.io", "c1", Path::new("/b"));
        let c = m.command(&["state".into(), "c1".into()]);
        let args: Vec<_> = c
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(c.get_program(), "moat");
        assert_eq!(
            args,
            [
                "--root",
                "/run/moat/k8s.io",
                "--log",
                "/b/log.json",
                "--log-format",
                "json",
                "--debug",
                "state",
                "c1"
            ]
        );
    }

    #[test]
    fn error_from_log() {
        let dir = tempfile::tempdir().unwrap();
        let o = ShimOptions {
            log: Some(dir.path().join("%ID%.json").display().to_string()),
            ..Default::default()
        };
        let m = Moat::new(&o, "ns", "c1", dir.path());
        std::fs::write(
            dir.path().join("c1.json"),
            "{\"level\":\"error\",\"msg\":\"old\"}\n",
        )
        .unwrap();
        let off = m.log_offset();
        std::fs::OpenOptions::new()
            .append(true)
            .open(dir.path().join("c1.json"))
            .and_then(|mut f| {
                std::io::Write::write_all(
                    &mut f,
                    b"{\"level\":\"info\",\"msg\":\"x\"}\nnot json\n{\"level\":\"error\",\"msg\":\"container with id c1 exists\"}\n",
                )
            })
            .unwrap();
        assert_eq!(
            m.logged_error(off).as_deref(),
            Some("container with id c1 exists")
        );
        assert_eq!(m.logged_error(m.log_offset()), None);
    }

    #[test]
    fn pid_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("p");
        std::fs::write(&p, "1234").unwrap();
        assert_eq!(read_pid(&p).unwrap(), 1234);
        std::fs::write(&p, "x").unwrap();
        assert!(read_pid(&p).is_err());
        assert!(read_pid(&dir.path().join("none")).is_err());
    }
}
