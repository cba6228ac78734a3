//! A private containerd for the tests that drive moat through containerd (tests/tests/
//! containerd.rs through `ctr`, tests/tests/cri.rs through the CRI plugin): its own config,
//! root, state, socket and plugin dirs under a temp dir, so nothing of the host's containerd
//! (if any) is touched; and docker-archive images built from local directories, imported with
//! `ctr image import` (no registry).

use crate::{run_with_timeout, wait_until, Output};
use serde_json::json;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// `name` in `$PATH`, `/usr/bin` or `/usr/sbin`.
pub fn find_program(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .chain([PathBuf::from("/usr/bin"), PathBuf::from("/usr/sbin")])
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// Returns None when containerd, ctr and containerd's runc shim are installed, else what is
/// missing.
pub fn missing_containerd() -> Option<String> {
    let missing: Vec<&str> = ["containerd", "ctr", "containerd-shim-runc-v2"]
        .into_iter()
        .filter(|p| find_program(p).is_none())
        .collect();
    (!missing.is_empty()).then(|| missing.join(", "))
}

/// The top of a containerd config (version 2, the format of containerd 1.6 and 1.7) that puts
/// everything containerd writes below `dir`: root, state, the gRPC and ttrpc sockets, and the
/// `opt` plugin's directory (default /opt/containerd). Callers append their plugin sections.
pub fn base_config(dir: &Path) -> String {
    let d = dir.display();
    format!(
        r#"version = 2
root = "{d}/root"
state = "{d}/state"
[grpc]
  address = "{d}/containerd.sock"
[ttrpc]
  address = "{d}/containerd.sock.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "{d}/opt"
"#
    )
}

/// A private containerd, stopped (and its directory removed) on drop.
pub struct Containerd {
    pub dir: PathBuf,
    /// The namespace `ctr` commands use (`k8s.io` is the CRI plugin's).
    pub namespace: String,
    child: Child,
    /// /run/containerd existed before (shims put their sockets in /run/containerd/s and `ctr`
    /// its fifos in /run/containerd/fifo, whatever the config says).
    run_containerd_existed: bool,
}

impl Containerd {
    /// Writes `config` to `<dir>/config.toml` and starts containerd with it (log in
    /// `<dir>/containerd.log`); returns once `ctr version` answers. `config` should start with
    /// [`base_config`]`(dir)`.
    /// `$MOAT_TEST_CONTAINERD_DEBUG=1` turns on containerd's debug log (shims and runtimes
    /// log more too).
    pub fn start(dir: &Path, namespace: &str, config: &str) -> Containerd {
        let mut config = config.to_string();
        if std::env::var("MOAT_TEST_CONTAINERD_DEBUG").as_deref() == Ok("1") {
            config += "[debug]\n  level = \"debug\"\n";
        }
        fs::write(dir.join("config.toml"), config).expect("write containerd config.toml");
        let log = fs::File::create(dir.join("containerd.log")).expect("create containerd.log");
        let containerd = find_program("containerd").expect("containerd is installed");
        let run_containerd_existed = Path::new("/run/containerd").exists();
        let child = Command::new(containerd)
            .arg("--config")
            .arg(dir.join("config.toml"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup containerd.log"))
            .stderr(log)
            .spawn()
            .expect("start containerd");
        let c = Containerd {
            dir: dir.to_path_buf(),
            namespace: namespace.to_string(),
            child,
            run_containerd_existed,
        };
        assert!(
            wait_until(Duration::from_secs(30), || c.ctr(&["version"]).success()),
            "containerd did not come up: {}",
            c.log()
        );
        c
    }

    /// The gRPC socket.
    pub fn socket(&self) -> PathBuf {
        self.dir.join("containerd.sock")
    }

    /// `ctr --address <socket> --namespace <ns> ARGS...` (not yet run).
    pub fn ctr_cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(find_program("ctr").expect("ctr is installed"));
        c.arg("--address")
            .arg(self.socket())
            .arg("--namespace")
            .arg(&self.namespace)
            .args(args);
        c
    }

    /// Runs a `ctr` command with a 60 s deadline.
    pub fn ctr(&self, args: &[&str]) -> Output {
        run_with_timeout(self.ctr_cmd(args), Duration::from_secs(60))
    }

    /// `ctr image import TAR`, failing the test when it fails.
    pub fn import(&self, tar: &Path) {
        let path = tar.to_str().expect("image path is UTF-8");
        let o = self.ctr(&["image", "import", path]);
        assert!(o.success(), "import {path}: {}", o.describe());
    }

    /// containerd's log so far.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.join("containerd.log")).unwrap_or_default()
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        // SAFETY: kill(2) on our own child containerd.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let ok = wait_until(Duration::from_secs(15), || {
            self.child.try_wait().ok().flatten().is_some()
        });
        if !ok {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if !self.run_containerd_existed {
            // Only what is empty, i.e. nothing a shim or ctr still uses.
            for d in [
                "/run/containerd/s",
                "/run/containerd/fifo",
                "/run/containerd",
            ] {
                let _ = fs::remove_dir(d);
            }
        }
        if std::env::var_os("MOAT_TEST_KEEP").is_some() {
            eprintln!("MOAT_TEST_KEEP: leaving {}", self.dir.display());
            return;
        }
        // Snapshot or rootfs mounts a failed test left behind would make remove_dir_all
        // descend into (and delete from) the image layers' lower dirs: detach them first.
        let under = crate::mounts_under(&self.dir);
        for m in under.iter().rev() {
            let Ok(c) = std::ffi::CString::new(m.as_str()) else {
                continue;
            };
            // SAFETY: umount2 on a path below our own temp dir.
            unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// Builds a docker-archive image tar (what `docker save` writes; `ctr image import` reads it)
/// with one layer holding the whole of `rootfs`, tagged `tag`, with `entrypoint` and `cmd`.
/// Work files go in `work` (created); returns the tar's path.
pub fn docker_archive(
    work: &Path,
    rootfs: &Path,
    tag: &str,
    entrypoint: &[&str],
    cmd: &[&str],
) -> PathBuf {
    fs::create_dir_all(work).unwrap_or_else(|e| panic!("mkdir {}: {e}", work.display()));
    let config = json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "Env": [crate::PATH_ENV],
            "Entrypoint": if entrypoint.is_empty() { json!(null) } else { json!(entrypoint) },
            "Cmd": if cmd.is_empty() { json!(null) } else { json!(cmd) },
            "WorkingDir": "/"
        },
        "rootfs": { "type": "layers", "diff_ids": ["sha256:@LAYER@"] },
        "history": [ { "created_by": "moat tests" } ]
    });
    let tar = work.with_extension("tar");
    let mut c = Command::new("/bin/sh");
    c.arg("-c")
        .arg(
            r#"set -e
            cd "$2"
            tar -C "$1" -cf layer.tar .
            L=$(sha256sum layer.tar | cut -d' ' -f1)
            mkdir "$L" && mv layer.tar "$L/layer.tar"
            printf '%s' "$4" | sed "s/@LAYER@/$L/" > config.tmp
            C=$(sha256sum config.tmp | cut -d' ' -f1)
            mv config.tmp "$C.json"
            printf '[{"Config":"%s.json","RepoTags":["%s"],"Layers":["%s/layer.tar"]}]' "$C" "$3" "$L" > manifest.json
            tar -cf "$5" .
            "#,
        )
        .arg("sh")
        .arg(rootfs)
        .arg(work)
        .arg(tag)
        .arg(config.to_string())
        .arg(&tar);
    let o = run_with_timeout(c, Duration::from_secs(120));
    assert!(o.success(), "build image {tag}: {}", o.describe());
    tar
}

/// A copy of the busybox part of the test rootfs at `dst` (no test programs, no python, no
/// device nodes: a container gets its own /dev), plus the test programs named in `programs`
/// (`/opt/moat-tests/NAME`).
pub fn busybox_rootfs(dst: &Path, programs: &[&str]) {
    fs::create_dir_all(dst).unwrap_or_else(|e| panic!("mkdir {}: {e}", dst.display()));
    let src = crate::rootfs_dir();
    let mut c = Command::new("/bin/sh");
    c.arg("-c")
        .arg(
            r#"set -e
            tar -C "$1" --exclude=./opt --exclude=./usr/lib --exclude='./usr/bin/python3*' \
                --exclude=./dev -cf - . | tar -C "$2" -xf -
            "#,
        )
        .arg("sh")
        .arg(&src)
        .arg(dst);
    let o = run_with_timeout(c, Duration::from_secs(120));
    assert!(o.success(), "copy the busybox rootfs: {}", o.describe());
    if !programs.is_empty() {
        let dir = dst.join("opt/moat-tests");
        fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
        for p in programs {
            let from = src.join("opt/moat-tests").join(p);
            fs::copy(&from, dir.join(p)).unwrap_or_else(|e| {
                panic!(
                    "copy {} (built by `make rootfs` from tests/programs/{p}.c): {e}",
                    from.display()
                )
            });
        }
    }
}
