//! moat as Podman's OCI runtime (`podman --runtime $(command -v moat)`), with conmon, on an
//! image imported from the test rootfs (no registry). Podman gets a private storage root and
//! run root under a temp dir, removed at the end.

use moat_tests::{moat_bin, require_root, rootfs_dir, run_with_timeout, wait_until, Output};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const IMAGE: &str = "localhost/moat-test-busybox:latest";

fn which(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .chain([PathBuf::from("/usr/bin")])
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

struct Podman {
    dir: PathBuf,
    bin: PathBuf,
}

impl Podman {
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&self.bin);
        c.arg("--root")
            .arg(self.dir.join("storage"))
            .arg("--runroot")
            .arg(self.dir.join("run"))
            .arg("--tmpdir")
            .arg(self.dir.join("tmp"))
            .arg("--cgroup-manager")
            .arg("cgroupfs")
            .arg("--events-backend")
            .arg("file")
            .arg("--runtime")
            .arg(moat_bin())
            .args(args);
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        run_with_timeout(self.cmd(args), Duration::from_secs(60))
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let _ = self.run(&["rm", "-f", "-t", "0", "-a"]);
        let _ = self.run(&["rmi", "-a", "-f"]);
        for m in moat_tests::mounts_under(&self.dir).iter().rev() {
            let c = std::ffi::CString::new(m.as_str()).unwrap();
            // SAFETY: umount2 on a path below our own temp dir.
            unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn import(p: &Podman, dir: &Path) {
    let tar = dir.join("rootfs.tar");
    let mut c = Command::new("tar");
    c.arg("-C")
        .arg(rootfs_dir())
        .args([
            "--exclude=./opt",
            "--exclude=./usr/lib",
            "--exclude=./usr/bin/python3*",
            "--exclude=./dev",
            "-cf",
        ])
        .arg(&tar)
        .arg(".");
    let o = run_with_timeout(c, Duration::from_secs(120));
    assert!(o.success(), "tar: {}", o.describe());
    let o = p.run(&["import", tar.to_str().unwrap(), IMAGE]);
    assert!(o.success(), "podman import: {}", o.describe());
}

#[test]
fn podman_runs_moat() {
    require_root!();
    let (Some(bin), Some(_)) = (which("podman"), which("conmon")) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "podman is not installed (make deps installs it)"
        );
        eprintln!("SKIP: podman or conmon not installed");
        return;
    };
    let dir = PathBuf::from(format!("/tmp/moat-podman-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    for d in ["storage", "run", "tmp"] {
        fs::create_dir_all(dir.join(d)).unwrap();
    }
    let p = Podman {
        dir: dir.clone(),
        bin,
    };
    import(&p, &dir);

    // run: output, the sentry's uname, the exit status.
    let o = p.run(&[
        "run",
        "--rm",
        "--network",
        "none",
        IMAGE,
        "sh",
        "-c",
        "echo hello from podman; uname -r; exit 3",
    ]);
    assert_eq!(o.code, 3, "{}", o.describe());
    assert_eq!(
        o.stdout,
        format!("hello from podman\n{}\n", moat_tests::expected_release()),
        "{}",
        o.describe()
    );

    // A terminal: conmon receives the pty master over --console-socket.
    let o = p.run(&[
        "run",
        "--rm",
        "-t",
        "--network",
        "none",
        IMAGE,
        "echo",
        "tty-out",
    ]);
    assert!(o.success(), "{}", o.describe());
    assert!(o.stdout.contains("tty-out\r\n"), "{}", o.describe());

    // A detached container: exec, top, pause/unpause, kill, rm.
    let o = p.run(&[
        "run",
        "-d",
        "--name",
        "moat-pm",
        "--network",
        "none",
        IMAGE,
        "sh",
        "-c",
        "trap 'exit 0' TERM; while :; do sleep 0.2; done",
    ]);
    assert!(o.success(), "{}", o.describe());
    let o = p.run(&["exec", "moat-pm", "sh", "-c", "echo in-exec; exit 4"]);
    assert_eq!(
        (o.code, o.stdout.as_str()),
        (4, "in-exec\n"),
        "{}",
        o.describe()
    );
    let top = p.run(&["top", "moat-pm"]);
    assert!(top.success(), "{}", top.describe());
    // top enters the sandbox's pid namespace: it sees the sandbox, not the host.
    assert!(!top.stdout.contains("kthreadd"), "{}", top.describe());
    let status = || {
        p.run(&["inspect", "--format", "{{.State.Status}}", "moat-pm"])
            .stdout
            .trim()
            .to_string()
    };
    assert!(p.run(&["pause", "moat-pm"]).success());
    assert_eq!(status(), "paused");
    assert!(p.run(&["unpause", "moat-pm"]).success());
    assert_eq!(status(), "running");
    let o = p.run(&["stop", "-t", "10", "moat-pm"]);
    assert!(o.success(), "{}", o.describe());
    assert!(wait_until(Duration::from_secs(10), || status() == "exited"));
    let code = p.run(&["inspect", "--format", "{{.State.ExitCode}}", "moat-pm"]);
    assert_eq!(code.stdout.trim(), "0", "{}", code.describe());
    assert!(p.run(&["rm", "moat-pm"]).success());
    drop(p);
    assert!(!dir.exists(), "{} left", dir.display());
}
