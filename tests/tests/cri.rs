//! moat under Kubernetes' Container Runtime Interface: this test does what kubelet does for a
//! pod, talking gRPC (CRI v1) to the CRI plugin of a private containerd, once with the runtime
//! handler `runc` (the reference), once with `moat` (what a RuntimeClass with
//! `handler: moat` selects: the moat shim) and once with `moat-runc` (containerd's runc shim
//! running moat as its runc binary), and requires the same outcome (docs/kubernetes.md
//! describes this exact setup).
//!
//! The containerd (Debian's 1.6, config version 2; root, state, sockets and the opt dir under
//! a temp dir) has the CRI plugin enabled with `sandbox_image` = a pause image built here, and
//! CNI = Debian's plugins in /usr/lib/cni (bridge `moatcri0`, host-local IPAM in
//! 10.88.77.0/24, loopback): pod addresses exist only on this machine. Both images (busybox
//! from the test rootfs, and the pause image whose only file is tests/programs/pause.c) are
//! built locally and imported with `ctr -n k8s.io image import`; there is no registry. The
//! pause image's /pause is /opt/moat-tests/pause of the test rootfs, and the busybox image
//! carries /opt/moat-tests/pod_shm (tests/programs/pod_shm.c).
//!
//! The pod: RunPodSandbox (hostname, log directory, cgroup parent, kubelet's default security
//! context, no DNS config), containers A (busybox httpd on 127.0.0.1:8080), B (fetches A's
//! page with wget, ignores SIGTERM) and C (waits, writes /dev/termination-log, exits 7), each
//! with a termination-log file and a shared emptyDir, as kubelet mounts them. Then:
//! ContainerStatus, the CRI log files, ExecSync (output, stderr, exit code, hostname, the
//! shared volume, the web page), the host's oom_score_adj, ContainerStats and
//! ListContainerStats, UpdateContainerResources (the cgroup files change), C's exit code 7,
//! StopContainer of B (SIGKILL after the grace period: 137) while A keeps serving,
//! StopContainer of A (0), RemoveContainer, StopPodSandbox, RemovePodSandbox; afterwards
//! nothing of the pod is left on the host (processes, cgroups, mounts, the netns, runtime
//! state, shim sockets, the veth on the bridge, the IPAM lease).
//!
//! What needs the whole pod in one sentry (SysV shm and a /dev/shm file mapped MAP_SHARED by
//! two containers, "a pod of three containers is one sentry") runs under runc always and under
//! moat only once that exists: see [`POD_IN_ONE_SENTRY`].
//!
//! Every gRPC call has a deadline ([`CALL_TIMEOUT`]); a failing check does not stop the
//! scenario (the report lists them all), a failing call does.

use k8s_cri::v1 as cri;
use moat_tests::containerd::{
    base_config, busybox_rootfs, docker_archive, find_program, missing_containerd, Containerd,
};
use moat_tests::{moat_bin, mountinfo, mounts_under, proc_state, require_root, wait_until};
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::fmt::Display;
use std::fs;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cri::image_service_client::ImageServiceClient;
use cri::runtime_service_client::RuntimeServiceClient;
use tonic::transport::Channel;

/// The pod's containers run in one sentry (the moat shim, `io.containerd.moat.v1`, creates
/// app containers with `moat create --sandbox`), so the checks that need it (SysV shm and a
/// MAP_SHARED /dev/shm file shared by two containers, one sentry for three containers) run
/// under both handlers. `MOAT_TEST_POD_IN_ONE_SENTRY=0` turns them off for moat.
const POD_IN_ONE_SENTRY: bool = true;

fn pod_in_one_sentry() -> bool {
    match std::env::var("MOAT_TEST_POD_IN_ONE_SENTRY").as_deref() {
        Ok("1") => true,
        Ok("0") => false,
        _ => POD_IN_ONE_SENTRY,
    }
}

/// The CRI plugin's containerd namespace.
const NS: &str = "k8s.io";
const BUSYBOX: &str = "moat.test/busybox:latest";
const PAUSE: &str = "moat.test/pause:1";
/// Debian's containernetworking-plugins (containerd's default is /opt/cni/bin).
const CNI_BIN_DIR: &str = "/usr/lib/cni";
/// The CNI bridge and subnet: names and addresses no real network uses, removed afterwards.
const BRIDGE: &str = "moatcri0";
const SUBNET: &str = "10.88.77.0/24";
const SUBNET_PREFIX: &str = "10.88.77.";
const CNI_NETWORK: &str = "moat-cri-test";
const POD_HOSTNAME: &str = "moat-cri-pod";
/// Deadline of every gRPC call.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// Deadline ExecSync is given (seconds), below CALL_TIMEOUT.
const EXEC_TIMEOUT_S: i64 = 20;
/// The SysV key and /dev/shm file pod_shm uses.
const SHM_KEY: &str = "0x6d6f6174";
const SHM_FILE: &str = "/dev/shm/moat-pod-shm";

// ==========================================================================================
// THE RUNTIME HANDLERS. This is the one place that says how containerd runs each handler.
// `runc` is the reference; `moat` is what `RuntimeClass.handler: moat` selects: the moat shim
// (`runtime_type = "io.containerd.moat.v1"`: containerd runs `containerd-shim-moat-v1` from
// its $PATH, see `World::start`) with the options file docs/kubernetes.md shows. `moat-runc`
// is the other route: containerd's runc shim with moat as its runc binary. Each runtime's
// root is under the temp dir ([`handler_root`]) so its state is isolated (and checked for
// leftovers).
// ==========================================================================================
const HANDLERS: [&str; 3] = ["runc", "moat", "moat-runc"];

/// A handler's runtime root. Short: moat's control socket
/// (`<root>/k8s.io/<64-hex id>/control.sock`) must fit in a unix socket address.
fn handler_root(dir: &Path, handler: &str) -> PathBuf {
    dir.join(match handler {
        "moat-runc" => "mr",
        h => h,
    })
}

fn is_moat(handler: &str) -> bool {
    handler.starts_with("moat")
}

fn runtime_handlers(dir: &Path, moat: &Path, runc: &Path) -> String {
    let cri = r#"plugins."io.containerd.grpc.v1.cri".containerd.runtimes"#;
    let d = dir.display();
    let shim_options = dir.join("moat-shim.toml");
    fs::write(
        &shim_options,
        format!(
            "binary_name = \"{}\"\nroot = \"{}\"\n",
            moat.display(),
            handler_root(dir, "moat").display()
        ),
    )
    .expect("write the moat shim's options file");
    format!(
        r#"    [{cri}.runc]
      runtime_type = "io.containerd.runc.v2"
      [{cri}.runc.options]
        BinaryName = "{runc}"
        Root = "{d}/runc"
    [{cri}.moat]
      runtime_type = "io.containerd.moat.v1"
      [{cri}.moat.options]
        ConfigPath = "{opts}"
    [{cri}.moat-runc]
      runtime_type = "io.containerd.runc.v2"
      [{cri}.moat-runc.options]
        BinaryName = "{moat}"
        Root = "{moat_runc_root}"
"#,
        runc = runc.display(),
        moat = moat.display(),
        opts = shim_options.display(),
        moat_runc_root = handler_root(dir, "moat-runc").display(),
    ) + &runsc_handler(dir)
}

/// The `runsc` handler, for the pod benchmark ([`cri_pod_bench`]) when gVisor is installed:
/// containerd's runc shim running runsc (there is no containerd-shim-runsc-v1 here; runsc
/// itself puts a pod's app containers into the pod sandbox from the CRI annotations).
fn runsc_handler(dir: &Path) -> String {
    let Some(runsc) = find_program("runsc") else {
        return String::new();
    };
    // runsc under the runc shim cannot take over the pod's CNI netns ("cannot run with
    // network enabled in root network namespace"): the benchmark gives it no network, which
    // only makes its pods cheaper.
    let wrapper = dir.join("runsc-no-network");
    let script = format!(
        "#!/bin/sh\nexec {} --network=none \"$@\"\n",
        runsc.display()
    );
    if fs::write(&wrapper, script).is_err()
        || fs::set_permissions(
            &wrapper,
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .is_err()
    {
        return String::new();
    }
    let runsc = wrapper;
    let cri = r#"plugins."io.containerd.grpc.v1.cri".containerd.runtimes"#;
    format!(
        r#"    [{cri}.runsc]
      runtime_type = "io.containerd.runc.v2"
      [{cri}.runsc.options]
        BinaryName = "{}"
        Root = "{}"
"#,
        runsc.display(),
        handler_root(dir, "runsc").display()
    )
}

/// The whole containerd config: base (dirs, sockets), the CRI plugin with the pause image,
/// CNI and the two handlers.
fn containerd_config(dir: &Path, moat: &Path, runc: &Path) -> String {
    let d = dir.display();
    let cri = r#"plugins."io.containerd.grpc.v1.cri""#;
    format!(
        r#"{base}[{cri}]
  disable_tcp_service = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  sandbox_image = "{PAUSE}"
  restrict_oom_score_adj = {restrict_oom}
  [{cri}.cni]
    bin_dir = "{CNI_BIN_DIR}"
    conf_dir = "{d}/cni-conf"
    max_conf_num = 1
  [{cri}.containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
{handlers}"#,
        base = base_config(dir),
        handlers = runtime_handlers(dir, moat, runc),
        restrict_oom = !can_lower_oom_score_adj(),
    )
}

/// Lowering an oom_score_adj (containerd gives the pod sandbox -998) needs CAP_SYS_RESOURCE.
/// Where the test runs without it (inside another container), containerd is told to clamp
/// every oom_score_adj to its own (`restrict_oom_score_adj`), as for rootless containerd.
fn can_lower_oom_score_adj() -> bool {
    const CAP_SYS_RESOURCE: u32 = 24;
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("CapEff:"))
                .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        })
        .is_some_and(|caps| caps & (1 << CAP_SYS_RESOURCE) != 0)
}

/// The oom_score_adj containerd gives the pod sandbox: -998, or containerd's own (this
/// process's) when it has to restrict it.
fn sandbox_oom_score_adj() -> String {
    if can_lower_oom_score_adj() {
        "-998".into()
    } else {
        read_trim(Path::new("/proc/self/oom_score_adj"))
    }
}

/// The CNI network: a bridge with host-local addresses (its lease files under the temp dir);
/// no masquerading and no default route (the pod only talks to itself). containerd adds the
/// loopback plugin for `lo` itself.
fn cni_conflist(dir: &Path) -> String {
    serde_json::json!({
        "cniVersion": "0.4.0",
        "name": CNI_NETWORK,
        "plugins": [{
            "type": "bridge",
            "bridge": BRIDGE,
            "isGateway": true,
            "ipMasq": false,
            "ipam": {
                "type": "host-local",
                "ranges": [[{ "subnet": SUBNET }]],
                "dataDir": dir.join("cni-ipam").display().to_string()
            }
        }]
    })
    .to_string()
}

// ==========================================================================================
// The CRI client

/// A CRI v1 client on containerd's socket (what kubelet's remote runtime is), with a
/// current-thread tokio runtime that every call is driven on.
struct Cri {
    rt: tokio::runtime::Runtime,
    rs: RuntimeServiceClient<Channel>,
    is: ImageServiceClient<Channel>,
}

impl Cri {
    fn connect(socket: &Path) -> Cri {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        let path = socket.to_path_buf();
        let channel = rt.block_on(async {
            // The URI is required but unused: every connection is the unix socket.
            let endpoint = tonic::transport::Endpoint::try_from("http://[::1]:50051")
                .expect("static URI")
                .connect_timeout(Duration::from_secs(5))
                .timeout(CALL_TIMEOUT);
            let connect = endpoint.connect_with_connector(tower::service_fn(
                move |_: tonic::transport::Uri| {
                    let path = path.clone();
                    async move {
                        let s = tokio::net::UnixStream::connect(path).await?;
                        Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(s))
                    }
                },
            ));
            tokio::time::timeout(CALL_TIMEOUT, connect).await
        });
        let channel = match channel {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => panic!("connect to {}: {e}", socket.display()),
            Err(_) => panic!("connect to {}: timed out", socket.display()),
        };
        Cri {
            rt,
            rs: RuntimeServiceClient::new(channel.clone()),
            is: ImageServiceClient::new(channel),
        }
    }

    /// Drives one call with [`CALL_TIMEOUT`]; `Err` is "what: code: message".
    fn try_call<T>(
        &self,
        what: &str,
        f: impl Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    ) -> Result<T, String> {
        self.rt.block_on(async {
            match tokio::time::timeout(CALL_TIMEOUT, f).await {
                Err(_) => Err(format!("{what}: no answer within {CALL_TIMEOUT:?}")),
                Ok(Err(s)) => Err(format!("{what}: {:?}: {}", s.code(), s.message())),
                Ok(Ok(r)) => Ok(r.into_inner()),
            }
        })
    }

    /// [`Cri::try_call`] that fails the scenario on error (the step cannot be skipped).
    fn call<T>(
        &self,
        what: &str,
        f: impl Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    ) -> T {
        self.try_call(what, f).unwrap_or_else(|e| panic!("{e}"))
    }

    fn rs(&self) -> RuntimeServiceClient<Channel> {
        self.rs.clone()
    }

    fn is(&self) -> ImageServiceClient<Channel> {
        self.is.clone()
    }

    fn container_status(&self, id: &str) -> cri::ContainerStatusResponse {
        self.call(
            &format!("ContainerStatus {id}"),
            self.rs().container_status(cri::ContainerStatusRequest {
                container_id: id.to_string(),
                verbose: true,
            }),
        )
    }

    fn state(&self, id: &str) -> String {
        let s = self.container_status(id).status.unwrap_or_default();
        cri::ContainerState::try_from(s.state)
            .map(|s| s.as_str_name().to_string())
            .unwrap_or_else(|_| format!("state {}", s.state))
    }

    /// ExecSync: (stdout, stderr, exit code), or the call's error.
    fn exec(&self, id: &str, cmd: &[&str]) -> Result<Exec, String> {
        let r = self.try_call(
            &format!("ExecSync {cmd:?}"),
            self.rs().exec_sync(exec_request(id, cmd)),
        )?;
        Ok(Exec::from(r))
    }

    fn pod_status(&self, id: &str) -> cri::PodSandboxStatusResponse {
        self.call(
            "PodSandboxStatus",
            self.rs().pod_sandbox_status(cri::PodSandboxStatusRequest {
                pod_sandbox_id: id.to_string(),
                verbose: true,
            }),
        )
    }
}

fn exec_request(id: &str, cmd: &[&str]) -> cri::ExecSyncRequest {
    cri::ExecSyncRequest {
        container_id: id.to_string(),
        cmd: cmd.iter().map(|s| s.to_string()).collect(),
        timeout: EXEC_TIMEOUT_S,
    }
}

/// What an ExecSync returned, as one comparable string.
struct Exec(String);

impl From<cri::ExecSyncResponse> for Exec {
    fn from(r: cri::ExecSyncResponse) -> Exec {
        Exec(format!(
            "exit {} stdout {:?} stderr {:?}",
            r.exit_code,
            String::from_utf8_lossy(&r.stdout),
            String::from_utf8_lossy(&r.stderr)
        ))
    }
}

fn exec_text(r: Result<Exec, String>) -> String {
    r.map(|e| e.0)
        .unwrap_or_else(|e| format!("call failed: {e}"))
}

fn want_exec(code: i32, stdout: &str, stderr: &str) -> String {
    format!("exit {code} stdout {stdout:?} stderr {stderr:?}")
}

/// The `info` JSON of a verbose status (containerd: pid, runtimeSpec, ...).
fn info(map: &HashMap<String, String>) -> Value {
    map.get("info")
        .and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or(Value::Null)
}

// ==========================================================================================
// Outcomes: every check is recorded, so one run reports everything that differs

struct Check {
    what: String,
    got: String,
    want: String,
    /// Expected to differ between handlers (not compared with the reference).
    per_handler: bool,
}

/// What one handler's run of the scenario observed.
struct Outcome {
    handler: &'static str,
    checks: Vec<Check>,
    /// The step that could not be done (a failed call, a panic), if any.
    fatal: Option<String>,
    /// Checks that were not run, and why.
    skipped: Vec<String>,
    /// Seconds the scenario took.
    secs: f64,
}

impl Outcome {
    fn new(handler: &'static str) -> Outcome {
        Outcome {
            handler,
            checks: Vec::new(),
            fatal: None,
            skipped: Vec::new(),
            secs: 0.0,
        }
    }

    /// Records `got` against `want` (compared as text).
    fn eq(&mut self, what: &str, got: impl Display, want: impl Display) {
        let (got, want) = (got.to_string(), want.to_string());
        let mark = if got == want { "ok  " } else { "FAIL" };
        eprintln!("[{}] {mark} {what}: {got}", self.handler);
        if got != want {
            eprintln!("[{}]      want: {want}", self.handler);
        }
        self.checks.push(Check {
            what: what.to_string(),
            got,
            want,
            per_handler: false,
        });
    }

    /// [`Outcome::eq`] for a value that depends on the handler (not compared with runc's).
    fn eq_per_handler(&mut self, what: &str, got: impl Display, want: impl Display) {
        self.eq(what, got, want);
        if let Some(c) = self.checks.last_mut() {
            c.per_handler = true;
        }
    }

    /// Records a condition; `detail` says what was seen when it does not hold.
    fn ok(&mut self, what: &str, holds: bool, detail: impl Display) {
        let got = if holds {
            "yes".to_string()
        } else {
            format!("no: {detail}")
        };
        self.eq(what, got, "yes");
    }

    fn failures(&self) -> Vec<&Check> {
        self.checks.iter().filter(|c| c.got != c.want).collect()
    }
}

fn panic_text(e: Box<dyn std::any::Any + Send>) -> String {
    e.downcast_ref::<String>()
        .cloned()
        .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "panic".to_string())
}

// ==========================================================================================
// The host side

/// A process seen at some point: pid and start time, so a reused pid is not mistaken for it.
#[derive(Clone, Copy, Debug)]
struct HostProc {
    pid: i32,
    start: u64,
}

impl HostProc {
    fn of(pid: i64) -> Option<HostProc> {
        let pid = i32::try_from(pid).ok().filter(|p| *p > 0)?;
        Some(HostProc {
            pid,
            start: start_time(pid)?,
        })
    }
    /// Still there (and not a zombie waiting for the host's init to reap it).
    fn alive(&self) -> bool {
        start_time(self.pid) == Some(self.start) && proc_state(self.pid) != Some('Z')
    }
}

/// Field 22 of /proc/PID/stat (start time in clock ticks since boot).
fn start_time(pid: i32) -> Option<u64> {
    let s = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    s[s.rfind(')')? + 2..].split(' ').nth(19)?.parse().ok()
}

/// Live processes whose cgroup path (any hierarchy) contains `cgroup`.
fn processes_in_cgroup(cgroup: &str) -> Vec<(i32, String)> {
    let mut v = Vec::new();
    let Ok(rd) = fs::read_dir("/proc") else {
        return v;
    };
    for e in rd.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(cg) = fs::read_to_string(format!("/proc/{pid}/cgroup")) else {
            continue;
        };
        if !cg.lines().any(|l| l.contains(cgroup)) || proc_state(pid) == Some('Z') {
            continue;
        }
        let cmd = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        v.push((pid, String::from_utf8_lossy(&cmd).replace('\0', " ")));
    }
    v
}

/// Every mounted cgroup hierarchy's root (v1 controllers and named hierarchies, or the v2
/// unified one).
fn cgroup_roots() -> Vec<PathBuf> {
    let base = Path::new("/sys/fs/cgroup");
    if base.join("cgroup.procs").exists() {
        return vec![base.to_path_buf()];
    }
    fs::read_dir(base)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| !p.is_symlink() && p.join("cgroup.procs").exists())
                .collect()
        })
        .unwrap_or_default()
}

fn cgroup_v2() -> bool {
    Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
}

/// The cgroup directory of `path` (a cgroupsPath) for `controller`.
fn cgroup_file(path: &str, controller: &str, file: &str) -> PathBuf {
    let rel = path.trim_start_matches('/');
    if cgroup_v2() {
        Path::new("/sys/fs/cgroup").join(rel).join(file)
    } else {
        Path::new("/sys/fs/cgroup")
            .join(controller)
            .join(rel)
            .join(file)
    }
}

fn read_trim(p: &Path) -> String {
    fs::read_to_string(p)
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|e| format!("<{}: {e}>", p.display()))
}

fn dir_entries(p: &Path) -> Vec<String> {
    fs::read_dir(p)
        .map(|rd| {
            let mut v: Vec<String> = rd
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            v.sort();
            v
        })
        .unwrap_or_default()
}

/// Lines of a CRI container log (`<RFC 3339 time> <stream> <F|P> <text>`) without the time,
/// and the lines that do not have that form.
fn cri_log(path: &Path) -> (Vec<String>, Vec<String>) {
    let text = fs::read_to_string(path).unwrap_or_default();
    let mut lines = Vec::new();
    let mut bad = Vec::new();
    for l in text.lines() {
        let mut parts = l.splitn(4, ' ');
        let (ts, stream, tag) = (parts.next(), parts.next(), parts.next());
        let rest = parts.next().unwrap_or("");
        let ts_ok = ts.is_some_and(|t| {
            let b = t.as_bytes();
            b.len() >= 20
                && b[4] == b'-'
                && b[7] == b'-'
                && b[10] == b'T'
                && b[13] == b':'
                && (t.ends_with('Z') || t[19..].contains(['+', '-']))
        });
        match (ts_ok, stream, tag) {
            (true, Some(s @ ("stdout" | "stderr")), Some(t @ ("F" | "P"))) => {
                lines.push(format!("{s} {t} {rest}"))
            }
            _ => bad.push(l.to_string()),
        }
    }
    (lines, bad)
}

// ==========================================================================================
// The shared world: containerd, images, CNI

struct World {
    dir: PathBuf,
    /// Cgroup parent of all pods (kubelet's is /kubepods); removed at the end.
    cgroup_base: String,
    /// Entries of /run/containerd/s (the shims' sockets) before the test.
    shim_sockets_before: BTreeSet<String>,
    // Dropped in this order: the client, then containerd, then the host leftovers.
    cri: Cri,
    ctd: Containerd,
    _host: HostCleanup,
}

/// Removes what the pods' network and cgroups leave on the host by design (kubelet and the
/// node's lifetime own them in a real cluster): the bridge, the cgroup parent.
struct HostCleanup {
    cgroup_base: String,
    netns_dir_existed: bool,
}

impl Drop for HostCleanup {
    fn drop(&mut self) {
        if Path::new("/sys/class/net").join(BRIDGE).exists() {
            let mut c = std::process::Command::new("ip");
            c.args(["link", "del", BRIDGE]);
            let _ = moat_tests::run_with_timeout(c, Duration::from_secs(10));
        }
        for root in cgroup_roots() {
            let base = root.join(self.cgroup_base.trim_start_matches('/'));
            for pod in dir_entries(&base) {
                let _ = fs::remove_dir(base.join(pod));
            }
            let _ = fs::remove_dir(&base);
        }
        // containerd makes it on first use; only removed when this test made it and it is
        // empty.
        if !self.netns_dir_existed {
            let _ = fs::remove_dir("/var/run/netns");
        }
    }
}

impl World {
    fn start(runc: &Path) -> World {
        // Short: runc shim state paths and moat's control socket
        // (<Root>/k8s.io/<64-hex id>/control.sock) must fit in a unix socket address (107).
        let dir = PathBuf::from(format!("/tmp/mcri{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("cni-conf")).expect("mkdir cni-conf");
        fs::write(
            dir.join("cni-conf/10-moat-cri-test.conflist"),
            cni_conflist(&dir),
        )
        .expect("write the CNI conflist");

        let cgroup_base = format!("/moat-cri-{}", std::process::id());
        let netns_dir_existed = Path::new("/var/run/netns").exists();
        let host = HostCleanup {
            cgroup_base: cgroup_base.clone(),
            netns_dir_existed,
        };
        let shim_sockets_before = dir_entries(Path::new("/run/containerd/s"))
            .into_iter()
            .collect();

        // containerd finds containerd-shim-moat-v1 on its PATH: `make build` puts it next
        // to moat. This test binary runs this one test: changing its environment races
        // with nothing.
        let moat = moat_bin();
        let bin_dir = moat.parent().expect("moat's directory").to_path_buf();
        assert!(
            bin_dir.join("containerd-shim-moat-v1").is_file(),
            "containerd-shim-moat-v1 is not next to {} (make build)",
            moat.display()
        );
        let path = std::env::join_paths(std::iter::once(bin_dir).chain(std::env::split_paths(
            &std::env::var_os("PATH").unwrap_or_default(),
        )))
        .expect("PATH");
        std::env::set_var("PATH", path);
        let ctd = Containerd::start(&dir, NS, &containerd_config(&dir, &moat, runc));

        // Images: busybox (with the pod_shm helper) and the pause image (one static binary).
        let bb = dir.join("img-busybox");
        busybox_rootfs(&bb, &["pod_shm"]);
        assert!(
            bb.join("opt/moat-tests/pod_shm").is_file(),
            "/opt/moat-tests/pod_shm missing"
        );
        ctd.import(&docker_archive(
            &dir.join("img-busybox-work"),
            &bb,
            BUSYBOX,
            &[],
            &["/bin/sh"],
        ));
        let pause = dir.join("img-pause");
        fs::create_dir_all(&pause).expect("mkdir img-pause");
        let pause_bin = moat_tests::rootfs_dir().join("opt/moat-tests/pause");
        fs::copy(&pause_bin, pause.join("pause")).unwrap_or_else(|e| {
            panic!(
                "copy {} (built by `make rootfs` from tests/programs/pause.c): {e}",
                pause_bin.display()
            )
        });
        ctd.import(&docker_archive(
            &dir.join("img-pause-work"),
            &pause,
            PAUSE,
            &["/pause"],
            &[],
        ));

        let cri = Cri::connect(&ctd.socket());
        let v = cri.call(
            "Version",
            cri.rs().version(cri::VersionRequest {
                version: "v1".into(),
            }),
        );
        eprintln!(
            "CRI: {} {} (API {})",
            v.runtime_name, v.runtime_version, v.runtime_api_version
        );
        // The runtime and the network (the CNI config loaded) must be ready, as kubelet waits
        // for before it starts pods; and the CRI plugin must have seen the imported images.
        let mut last = String::new();
        let ready = wait_until(Duration::from_secs(30), || {
            let Ok(s) = cri.try_call(
                "Status",
                cri.rs().status(cri::StatusRequest { verbose: false }),
            ) else {
                return false;
            };
            let conds = s.status.map(|s| s.conditions).unwrap_or_default();
            last = format!("{conds:?}");
            conds.len() >= 2 && conds.iter().all(|c| c.status)
        });
        assert!(
            ready,
            "CRI runtime/network not ready: {last}\n{}",
            ctd.log()
        );
        for image in [BUSYBOX, PAUSE] {
            let seen = wait_until(Duration::from_secs(20), || {
                cri.try_call(
                    "ImageStatus",
                    cri.is().image_status(cri::ImageStatusRequest {
                        image: Some(cri::ImageSpec {
                            image: image.into(),
                            ..Default::default()
                        }),
                        verbose: false,
                    }),
                )
                .is_ok_and(|r| r.image.is_some())
            });
            assert!(seen, "the CRI plugin does not list the imported {image}");
        }
        World {
            dir,
            cgroup_base,
            shim_sockets_before,
            cri,
            ctd,
            _host: host,
        }
    }

    /// containerd's error lines (for the report).
    fn containerd_errors(&self) -> Vec<String> {
        self.ctd
            .log()
            .lines()
            .filter(|l| l.contains("level=error"))
            .map(str::to_string)
            .collect()
    }
}

// ==========================================================================================
// Kubelet's side of a pod

/// The namespaces kubelet asks for by default: the pod's network and IPC, a pid namespace per
/// container (`shareProcessNamespace: false`).
fn namespaces() -> cri::NamespaceOption {
    cri::NamespaceOption {
        network: cri::NamespaceMode::Pod as i32,
        pid: cri::NamespaceMode::Container as i32,
        ipc: cri::NamespaceMode::Pod as i32,
        ..Default::default()
    }
}

fn unconfined() -> Option<cri::SecurityProfile> {
    Some(cri::SecurityProfile {
        profile_type: cri::security_profile::ProfileType::Unconfined as i32,
        ..Default::default()
    })
}

/// What kubelet sends for a container without a securityContext: the pod's namespaces, the
/// default masked and read-only /proc and /sys paths, seccomp Unconfined (no SeccompDefault),
/// privilege escalation allowed.
fn container_security() -> cri::LinuxContainerSecurityContext {
    let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    cri::LinuxContainerSecurityContext {
        namespace_options: Some(namespaces()),
        masked_paths: strings(&[
            "/proc/asound",
            "/proc/acpi",
            "/proc/kcore",
            "/proc/keys",
            "/proc/latency_stats",
            "/proc/timer_list",
            "/proc/timer_stats",
            "/proc/sched_debug",
            "/proc/scsi",
            "/sys/firmware",
        ]),
        readonly_paths: strings(&[
            "/proc/bus",
            "/proc/fs",
            "/proc/irq",
            "/proc/sys",
            "/proc/sysrq-trigger",
        ]),
        seccomp: unconfined(),
        ..Default::default()
    }
}

fn labels(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A pod as kubelet describes it.
struct PodSpec {
    name: String,
    uid: String,
    log_dir: PathBuf,
    /// The emptyDir volume `shared` (kubelet's pods/<uid>/volumes/kubernetes.io~empty-dir/).
    shared: PathBuf,
    /// kubelet's pods/<uid>/containers/ (termination-log files).
    containers_dir: PathBuf,
    cgroup_parent: String,
    config: cri::PodSandboxConfig,
}

impl PodSpec {
    fn new(w: &World, handler: &str) -> PodSpec {
        PodSpec::numbered(w, handler, 0)
    }

    /// The pod of `handler`'s run number `n` (the benchmark runs several one after another).
    fn numbered(w: &World, handler: &str, n: u32) -> PodSpec {
        let name = format!(
            "cri-{handler}{}",
            if n == 0 {
                String::new()
            } else {
                format!("-{n}")
            }
        );
        let uid = format!("{handler}-{}-{n}", std::process::id());
        let log_dir = w
            .dir
            .join("log/pods")
            .join(format!("moat-test_{name}_{uid}"));
        let pod_dir = w.dir.join("kubelet/pods").join(&uid);
        let shared = pod_dir.join("volumes/kubernetes.io~empty-dir/shared");
        let containers_dir = pod_dir.join("containers");
        for d in [&log_dir, &shared, &containers_dir] {
            fs::create_dir_all(d).unwrap_or_else(|e| panic!("mkdir {}: {e}", d.display()));
        }
        let cgroup_parent = format!("{}/pod{uid}", w.cgroup_base);
        let config = cri::PodSandboxConfig {
            metadata: Some(cri::PodSandboxMetadata {
                name: name.clone(),
                uid: uid.clone(),
                namespace: "moat-test".into(),
                attempt: 0,
            }),
            hostname: POD_HOSTNAME.into(),
            log_directory: log_dir.display().to_string(),
            // dnsPolicy None without dnsConfig: containerd copies the host's resolv.conf.
            dns_config: None,
            labels: labels(&[
                ("io.kubernetes.pod.name", &name),
                ("io.kubernetes.pod.namespace", "moat-test"),
                ("io.kubernetes.pod.uid", &uid),
            ]),
            linux: Some(cri::LinuxPodSandboxConfig {
                cgroup_parent: cgroup_parent.clone(),
                security_context: Some(cri::LinuxSandboxSecurityContext {
                    namespace_options: Some(namespaces()),
                    seccomp: unconfined(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        PodSpec {
            name,
            uid,
            log_dir,
            shared,
            containers_dir,
            cgroup_parent,
            config,
        }
    }

    /// Container `name` running `/bin/sh -c script` with the shared volume at /shared and its
    /// own termination-log file (created empty, as kubelet does) at /dev/termination-log.
    fn container(&self, name: &str, script: &str) -> (cri::ContainerConfig, PathBuf) {
        let term = self.containers_dir.join(name).join("termination-log");
        fs::create_dir_all(self.containers_dir.join(name)).expect("mkdir containers/NAME");
        fs::write(&term, "").expect("create the termination-log file");
        let mount = |container: &str, host: &Path| cri::Mount {
            container_path: container.into(),
            host_path: host.display().to_string(),
            ..Default::default()
        };
        let config = cri::ContainerConfig {
            metadata: Some(cri::ContainerMetadata {
                name: name.into(),
                attempt: 0,
            }),
            image: Some(cri::ImageSpec {
                image: BUSYBOX.into(),
                ..Default::default()
            }),
            command: vec!["/bin/sh".into(), "-c".into(), script.into()],
            envs: vec![cri::KeyValue {
                key: "CONTAINER".into(),
                value: name.into(),
            }],
            mounts: vec![
                mount("/shared", &self.shared),
                mount("/dev/termination-log", &term),
            ],
            labels: labels(&[
                ("io.kubernetes.container.name", name),
                ("io.kubernetes.pod.name", &self.name),
                ("io.kubernetes.pod.namespace", "moat-test"),
                ("io.kubernetes.pod.uid", &self.uid),
            ]),
            annotations: labels(&[(
                "io.kubernetes.container.terminationMessagePath",
                "/dev/termination-log",
            )]),
            log_path: format!("{name}/0.log"),
            linux: Some(cri::LinuxContainerConfig {
                // A Burstable container: cpu request 250m, no limits.
                resources: Some(cri::LinuxContainerResources {
                    cpu_period: 100_000,
                    cpu_shares: 256,
                    oom_score_adj: 500,
                    ..Default::default()
                }),
                security_context: Some(container_security()),
            }),
            ..Default::default()
        };
        (config, term)
    }
}

/// Stops and removes the pod (and its containers) if the scenario did not get that far.
struct PodGuard<'a> {
    cri: &'a Cri,
    id: String,
    done: bool,
}

impl Drop for PodGuard<'_> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        eprintln!("cleaning up pod {} after a failure", self.id);
        let rs = self.cri.rs();
        let list = self.cri.try_call(
            "ListContainers",
            rs.clone().list_containers(cri::ListContainersRequest {
                filter: Some(cri::ContainerFilter {
                    pod_sandbox_id: self.id.clone(),
                    ..Default::default()
                }),
            }),
        );
        for c in list.map(|l| l.containers).unwrap_or_default() {
            let _ = self.cri.try_call(
                "StopContainer",
                rs.clone().stop_container(cri::StopContainerRequest {
                    container_id: c.id.clone(),
                    timeout: 0,
                }),
            );
            let _ = self.cri.try_call(
                "RemoveContainer",
                rs.clone()
                    .remove_container(cri::RemoveContainerRequest { container_id: c.id }),
            );
        }
        let _ = self.cri.try_call(
            "StopPodSandbox",
            rs.clone().stop_pod_sandbox(cri::StopPodSandboxRequest {
                pod_sandbox_id: self.id.clone(),
            }),
        );
        let _ = self.cri.try_call(
            "RemovePodSandbox",
            rs.clone().remove_pod_sandbox(cri::RemovePodSandboxRequest {
                pod_sandbox_id: self.id.clone(),
            }),
        );
    }
}

/// What the leftover checks need to know about a pod that ran.
#[derive(Default)]
struct Traces {
    pod_id: String,
    container_ids: Vec<String>,
    cgroup_parent: String,
    netns: Option<PathBuf>,
    procs: Vec<HostProc>,
}

// ==========================================================================================
// The scenario

/// Container A: serves its page on 127.0.0.1:8080; exits 0 on SIGTERM.
const SCRIPT_A: &str = r#"trap 'echo "A: got TERM"; exit 0' TERM
mkdir -p /www
echo "hello from A on $(hostname)" > /www/index.html
httpd -f -p 127.0.0.1:8080 -h /www &
echo "A: serving"
while :; do sleep 0.2; done"#;

/// Container B: fetches A's page over the pod's loopback; ignores SIGTERM (so StopContainer
/// has to kill it).
const SCRIPT_B: &str = r#"trap '' TERM
echo "B: started"
i=0
until wget -q -O /tmp/page http://127.0.0.1:8080/; do
    i=$((i+1)); [ $i -lt 150 ] || { echo "B: no answer from A"; exit 9; }
    sleep 0.1
done
echo "B: got $(cat /tmp/page)"
while :; do sleep 0.2; done"#;

/// Container C: runs until told (a file only an exec into C creates), leaves a termination
/// message and exits 7. It waits a second after the file appears so that the exec that made
/// it has been reported before C ends (an exec still running when its container's init exits
/// is killed with it).
const SCRIPT_C: &str = r#"echo "C: waiting"
until [ -e /tmp/go ]; do sleep 0.1; done
sleep 1
echo "C was here" > /dev/termination-log
echo "C: exiting with 7"
exit 7"#;

fn scenario(w: &World, handler: &'static str, out: &mut Outcome, tr: &mut Traces) {
    let cri = &w.cri;
    let spec = PodSpec::new(w, handler);
    tr.cgroup_parent = spec.cgroup_parent.clone();

    // ---- RunPodSandbox
    let pod_id = cri
        .call(
            "RunPodSandbox",
            cri.rs().run_pod_sandbox(cri::RunPodSandboxRequest {
                config: Some(spec.config.clone()),
                runtime_handler: handler.into(),
            }),
        )
        .pod_sandbox_id;
    tr.pod_id = pod_id.clone();
    let mut guard = PodGuard {
        cri,
        id: pod_id.clone(),
        done: false,
    };
    let ps = cri.pod_status(&pod_id);
    let st = ps.status.clone().unwrap_or_default();
    let pinfo = info(&ps.info);
    out.eq(
        "pod: state",
        cri::PodSandboxState::try_from(st.state).map_or("?", |s| s.as_str_name()),
        "SANDBOX_READY",
    );
    let ip = st.network.map(|n| n.ip).unwrap_or_default();
    out.ok(
        &format!("pod: IP in {SUBNET}"),
        ip.starts_with(SUBNET_PREFIX),
        &ip,
    );
    tr.procs
        .extend(pinfo["pid"].as_i64().and_then(HostProc::of));
    tr.netns = pinfo["runtimeSpec"]["linux"]["namespaces"]
        .as_array()
        .and_then(|ns| ns.iter().find(|n| n["type"] == "network"))
        .and_then(|n| n["path"].as_str())
        .map(PathBuf::from);
    out.ok(
        "pod: network namespace pinned by containerd",
        tr.netns.as_ref().is_some_and(|p| p.exists()),
        format!("{:?}", tr.netns),
    );
    // containerd gives the sandbox -998 (restricted: see can_lower_oom_score_adj).
    let sandbox_oom = tr
        .procs
        .first()
        .map(|p| read_trim(Path::new(&format!("/proc/{}/oom_score_adj", p.pid))));
    out.eq(
        "pod: sandbox process oom_score_adj on the host",
        sandbox_oom.unwrap_or_default(),
        sandbox_oom_score_adj(),
    );

    // ---- CreateContainer + StartContainer: A, B, C
    let mut ids = HashMap::new();
    let mut terms = HashMap::new();
    for (name, script) in [("a", SCRIPT_A), ("b", SCRIPT_B), ("c", SCRIPT_C)] {
        let (config, term) = spec.container(name, script);
        terms.insert(name, term);
        let id = cri
            .call(
                &format!("CreateContainer {name}"),
                cri.rs().create_container(cri::CreateContainerRequest {
                    pod_sandbox_id: pod_id.clone(),
                    config: Some(config),
                    sandbox_config: Some(spec.config.clone()),
                }),
            )
            .container_id;
        tr.container_ids.push(id.clone());
        out.eq(
            &format!("{name}: state after CreateContainer"),
            cri.state(&id),
            "CONTAINER_CREATED",
        );
        cri.call(
            &format!("StartContainer {name}"),
            cri.rs().start_container(cri::StartContainerRequest {
                container_id: id.clone(),
            }),
        );
        ids.insert(name, id);
    }
    let (a, b, c) = (&ids["a"], &ids["b"], &ids["c"]);
    let mut pid_of = HashMap::new();
    for (name, id) in [("a", a), ("b", b), ("c", c)] {
        let s = cri.container_status(id);
        let st = s.status.clone().unwrap_or_default();
        out.eq(
            &format!("{name}: state after StartContainer"),
            cri::ContainerState::try_from(st.state).map_or("?", |s| s.as_str_name()),
            "CONTAINER_RUNNING",
        );
        out.ok(
            &format!("{name}: started_at set"),
            st.started_at > 0,
            st.started_at,
        );
        let i = info(&s.info);
        let p = i["pid"].as_i64().and_then(HostProc::of);
        tr.procs.extend(p);
        pid_of.insert(name, (p, i["runtimeSpec"]["linux"]["cgroupsPath"].clone()));
    }

    // ---- one sentry per pod (moat only; three containers are running now)
    if is_moat(handler) {
        let sentries: Vec<_> = processes_in_cgroup(&spec.cgroup_parent)
            .into_iter()
            .filter(|(_, cmd)| cmd.contains(" boot "))
            .collect();
        if pod_in_one_sentry() {
            out.eq(
                "pod: moat sandbox processes for three containers (+ the sandbox)",
                sentries.len(),
                1,
            );
        } else {
            out.skipped.push(format!(
                "a pod of three containers is one sentry (POD_IN_ONE_SENTRY = false): \
                 today {} sandbox processes: {sentries:?}",
                sentries.len()
            ));
        }
    }

    // ---- B reaches A on the pod's 127.0.0.1: its log says so
    let b_log = spec.log_dir.join("b/0.log");
    let want_b_line = format!("stdout F B: got hello from A on {POD_HOSTNAME}");
    let got_page = wait_until(Duration::from_secs(20), || {
        cri_log(&b_log).0.contains(&want_b_line) || cri.state(b) != "CONTAINER_RUNNING"
    });
    out.ok(
        "b: fetched A's page (its log)",
        got_page && cri_log(&b_log).0.contains(&want_b_line),
        format!("{:?}", cri_log(&b_log).0),
    );

    // ---- ExecSync
    let x = |id: &str, cmd: &[&str]| exec_text(cri.exec(id, cmd));
    out.eq(
        "a: exec hostname",
        x(a, &["hostname"]),
        want_exec(0, &format!("{POD_HOSTNAME}\n"), ""),
    );
    out.eq(
        "b: exec hostname",
        x(b, &["hostname"]),
        want_exec(0, &format!("{POD_HOSTNAME}\n"), ""),
    );
    out.eq(
        "b: exec cat /etc/hostname (the pod's file)",
        x(b, &["cat", "/etc/hostname"]),
        want_exec(0, &format!("{POD_HOSTNAME}\n"), ""),
    );
    out.eq(
        "b: exec wget http://127.0.0.1:8080/ (A's httpd)",
        x(b, &["wget", "-q", "-O", "-", "http://127.0.0.1:8080/"]),
        want_exec(0, &format!("hello from A on {POD_HOSTNAME}\n"), ""),
    );
    out.eq(
        "b: exec with stdout, stderr and exit 3",
        x(b, &["sh", "-c", "echo out; echo err >&2; exit 3"]),
        want_exec(3, "out\n", "err\n"),
    );
    out.eq(
        "a: pid 1 is A's own shell (a pid namespace per container)",
        x(
            a,
            &[
                "sh",
                "-c",
                "head -c 15 /proc/1/cmdline | tr '\\0' ' '; echo",
            ],
        ),
        want_exec(0, "/bin/sh -c trap\n", ""),
    );
    out.eq(
        "a: exec sees the container's environment",
        x(a, &["sh", "-c", "echo $CONTAINER"]),
        want_exec(0, "a\n", ""),
    );
    // The pod really runs under the handler: moat's sentry reports its own kernel release.
    let release = cri.exec(a, &["uname", "-r"]).map(|e| e.0);
    let kernel = |r: &str| want_exec(0, &format!("{r}\n"), "");
    let seen = match &release {
        Ok(r) if *r == kernel(&moat_tests::expected_release()) => "moat's sentry".to_string(),
        Ok(r) if *r == kernel(&moat_tests::host_release()) => "the host kernel".to_string(),
        other => format!("{other:?}"),
    };
    out.eq_per_handler(
        "a: uname -r is whose",
        seen,
        if is_moat(handler) {
            "moat's sentry"
        } else {
            "the host kernel"
        },
    );
    // The shared emptyDir: B looks first, then A writes, then B must see the new file.
    out.eq(
        "b: shared volume is empty",
        x(b, &["ls", "-A", "/shared"]),
        want_exec(0, "", ""),
    );
    out.eq(
        "a: writes /shared/from-a",
        x(a, &["sh", "-c", "echo written by A > /shared/from-a"]),
        want_exec(0, "", ""),
    );
    out.eq(
        "b: reads /shared/from-a",
        x(b, &["cat", "/shared/from-a"]),
        want_exec(0, "written by A\n", ""),
    );
    out.eq(
        "host: the emptyDir holds A's file",
        read_trim(&spec.shared.join("from-a")),
        "written by A",
    );
    // oomScoreAdj reaches the host process the kernel's OOM killer looks at.
    let a_proc = pid_of["a"].0;
    out.eq(
        "a: oom_score_adj of its host process",
        a_proc
            .map(|p| read_trim(Path::new(&format!("/proc/{}/oom_score_adj", p.pid))))
            .unwrap_or_else(|| "no pid in ContainerStatus".into()),
        "500",
    );

    // ---- SysV shm and a MAP_SHARED /dev/shm file between A and B (one IPC namespace, one
    // /dev/shm per pod)
    if handler == "runc" || pod_in_one_sentry() {
        for (kind, name) in [("sysv", SHM_KEY), ("file", SHM_FILE)] {
            let (ra, rb) = cri.rt.block_on(async {
                let mut ca = cri.rs();
                let mut cb = cri.rs();
                let pa = format!("/opt/moat-tests/pod_shm {kind} {name} a");
                let pb = format!("/opt/moat-tests/pod_shm {kind} {name} b");
                let fa = ca.exec_sync(exec_request(a, &["sh", "-c", &pa]));
                let fb = cb.exec_sync(exec_request(b, &["sh", "-c", &pb]));
                let (ra, rb) = tokio::join!(
                    tokio::time::timeout(CALL_TIMEOUT, fa),
                    tokio::time::timeout(CALL_TIMEOUT, fb)
                );
                let text = |r: Result<
                    Result<tonic::Response<cri::ExecSyncResponse>, tonic::Status>,
                    _,
                >| match r {
                    Ok(Ok(r)) => Exec::from(r.into_inner()).0,
                    Ok(Err(s)) => format!("call failed: {:?}: {}", s.code(), s.message()),
                    Err(_) => "call failed: no answer".to_string(),
                };
                (text(ra), text(rb))
            });
            out.eq(
                &format!("a+b: {kind} shared memory, side a"),
                ra,
                want_exec(0, "a: saw hello from b\n", ""),
            );
            out.eq(
                &format!("a+b: {kind} shared memory, side b"),
                rb,
                want_exec(0, "b: saw hello from a\n", ""),
            );
        }
    } else {
        out.skipped.push(
            "SysV shm and a MAP_SHARED /dev/shm file shared by A and B (POD_IN_ONE_SENTRY = \
             false)"
                .into(),
        );
    }

    // ---- ContainerStats and ListContainerStats
    let stats = cri
        .call(
            "ContainerStats a",
            cri.rs().container_stats(cri::ContainerStatsRequest {
                container_id: a.clone(),
            }),
        )
        .stats
        .unwrap_or_default();
    let cpu = stats
        .cpu
        .as_ref()
        .and_then(|c| c.usage_core_nano_seconds)
        .map(|v| v.value);
    let mem = stats
        .memory
        .as_ref()
        .and_then(|m| m.working_set_bytes)
        .map(|v| v.value);
    out.ok(
        "a: ContainerStats cpu usage > 0",
        cpu.is_some_and(|v| v > 0),
        format!("{:?}", stats.cpu),
    );
    out.ok(
        "a: ContainerStats memory working set > 0",
        mem.is_some_and(|v| v > 0),
        format!("{:?}", stats.memory),
    );
    let list = cri
        .call(
            "ListContainerStats",
            cri.rs()
                .list_container_stats(cri::ListContainerStatsRequest {
                    filter: Some(cri::ContainerStatsFilter {
                        pod_sandbox_id: pod_id.clone(),
                        ..Default::default()
                    }),
                }),
        )
        .stats;
    let mut names: Vec<String> = list
        .iter()
        .map(|s| {
            let n = s
                .attributes
                .as_ref()
                .and_then(|a| a.metadata.as_ref())
                .map(|m| m.name.clone())
                .unwrap_or_default();
            let full = s
                .cpu
                .as_ref()
                .is_some_and(|c| c.usage_core_nano_seconds.is_some())
                && s.memory
                    .as_ref()
                    .is_some_and(|m| m.working_set_bytes.is_some());
            format!("{n}{}", if full { "" } else { "(no cpu/memory)" })
        })
        .collect();
    names.sort();
    out.eq(
        "pod: ListContainerStats (containers with cpu and memory)",
        names.join(","),
        "a,b,c",
    );

    // ---- UpdateContainerResources (A): the cgroup files follow
    let upd = cri.try_call(
        "UpdateContainerResources a",
        cri.rs()
            .update_container_resources(cri::UpdateContainerResourcesRequest {
                container_id: a.clone(),
                linux: Some(cri::LinuxContainerResources {
                    cpu_period: 100_000,
                    cpu_quota: 50_000,
                    cpu_shares: 512,
                    memory_limit_in_bytes: 256 << 20,
                    oom_score_adj: 500,
                    ..Default::default()
                }),
                ..Default::default()
            }),
    );
    out.eq(
        "a: UpdateContainerResources",
        upd.map(|_| "ok".to_string()).unwrap_or_else(|e| e),
        "ok",
    );
    let cg = pid_of["a"].1.as_str().unwrap_or("").to_string();
    let (got, want) = if cgroup_v2() {
        (
            format!(
                "cpu.weight={} cpu.max={} memory.max={}",
                read_trim(&cgroup_file(&cg, "", "cpu.weight")),
                read_trim(&cgroup_file(&cg, "", "cpu.max")),
                read_trim(&cgroup_file(&cg, "", "memory.max")),
            ),
            // runc's shares -> weight conversion: 1 + (512 - 2) * 9999 / 262142
            "cpu.weight=20 cpu.max=50000 100000 memory.max=268435456".to_string(),
        )
    } else {
        (
            format!(
                "cpu.shares={} cpu.cfs_quota_us={} memory.limit_in_bytes={}",
                read_trim(&cgroup_file(&cg, "cpu", "cpu.shares")),
                read_trim(&cgroup_file(&cg, "cpu", "cpu.cfs_quota_us")),
                read_trim(&cgroup_file(&cg, "memory", "memory.limit_in_bytes")),
            ),
            "cpu.shares=512 cpu.cfs_quota_us=50000 memory.limit_in_bytes=268435456".to_string(),
        )
    };
    out.eq("a: cgroup after UpdateContainerResources", got, want);

    // ---- C exits with 7 (and leaves a termination message)
    out.eq(
        "c: exec touch /tmp/go",
        x(c, &["touch", "/tmp/go"]),
        want_exec(0, "", ""),
    );
    let exited = wait_until(Duration::from_secs(15), || {
        cri.state(c) == "CONTAINER_EXITED"
    });
    let cs = cri.container_status(c).status.unwrap_or_default();
    out.ok("c: EXITED after its exec", exited, cri.state(c));
    out.eq(
        "c: exit code and reason",
        format!("{} {}", cs.exit_code, cs.reason),
        "7 Error",
    );
    out.ok("c: finished_at set", cs.finished_at > 0, cs.finished_at);
    out.eq(
        "host: c's termination-log file",
        read_trim(&terms["c"]),
        "C was here",
    );
    out.eq(
        "c: exec into an exited container fails",
        cri.exec(c, &["true"]).is_err(),
        true,
    );

    // ---- StopContainer B (ignores SIGTERM: killed after the grace period); A lives on
    let t = Instant::now();
    let stop_b = cri.try_call(
        "StopContainer b",
        cri.rs().stop_container(cri::StopContainerRequest {
            container_id: b.clone(),
            timeout: 2,
        }),
    );
    out.eq(
        "b: StopContainer (timeout 2 s)",
        stop_b.map(|_| "ok".to_string()).unwrap_or_else(|e| e),
        "ok",
    );
    out.ok(
        "b: StopContainer waited the grace period, not much longer",
        t.elapsed() >= Duration::from_millis(1900) && t.elapsed() < Duration::from_secs(15),
        format!("{:?}", t.elapsed()),
    );
    let bs = cri.container_status(b).status.unwrap_or_default();
    out.eq(
        "b: after StopContainer",
        format!(
            "{} {} {}",
            cri::ContainerState::try_from(bs.state).map_or("?", |s| s.as_str_name()),
            bs.exit_code,
            bs.reason
        ),
        "CONTAINER_EXITED 137 Error",
    );
    out.eq(
        "a: still running after B was killed",
        cri.state(a),
        "CONTAINER_RUNNING",
    );
    out.eq(
        "a: still serving after B was killed",
        x(a, &["wget", "-q", "-O", "-", "http://127.0.0.1:8080/"]),
        want_exec(0, &format!("hello from A on {POD_HOSTNAME}\n"), ""),
    );
    out.eq(
        "pod: still ready after B was killed",
        cri::PodSandboxState::try_from(cri.pod_status(&pod_id).status.unwrap_or_default().state)
            .map_or("?", |s| s.as_str_name()),
        "SANDBOX_READY",
    );

    // ---- StopContainer A (SIGTERM: its trap exits 0)
    cri.call(
        "StopContainer a",
        cri.rs().stop_container(cri::StopContainerRequest {
            container_id: a.clone(),
            timeout: 10,
        }),
    );
    let as_ = cri.container_status(a).status.unwrap_or_default();
    out.eq(
        "a: after StopContainer",
        format!(
            "{} {} {}",
            cri::ContainerState::try_from(as_.state).map_or("?", |s| s.as_str_name()),
            as_.exit_code,
            as_.reason
        ),
        "CONTAINER_EXITED 0 Completed",
    );

    // ---- the logs, in CRI format
    for (name, want) in [
        (
            "a",
            vec![
                "stdout F A: serving".to_string(),
                "stdout F A: got TERM".into(),
            ],
        ),
        (
            "b",
            vec!["stdout F B: started".to_string(), want_b_line.clone()],
        ),
        (
            "c",
            vec![
                "stdout F C: waiting".to_string(),
                "stdout F C: exiting with 7".into(),
            ],
        ),
    ] {
        let (lines, bad) = cri_log(&spec.log_dir.join(name).join("0.log"));
        out.eq(
            &format!("{name}: log lines"),
            format!("{lines:?}"),
            format!("{want:?}"),
        );
        out.eq(
            &format!("{name}: log lines not in CRI format"),
            format!("{bad:?}"),
            "[]",
        );
    }

    // ---- RemoveContainer, StopPodSandbox, RemovePodSandbox
    for (name, id) in [("a", a), ("b", b), ("c", c)] {
        cri.call(
            &format!("RemoveContainer {name}"),
            cri.rs().remove_container(cri::RemoveContainerRequest {
                container_id: id.clone(),
            }),
        );
    }
    let left = cri
        .call(
            "ListContainers",
            cri.rs().list_containers(cri::ListContainersRequest {
                filter: Some(cri::ContainerFilter {
                    pod_sandbox_id: pod_id.clone(),
                    ..Default::default()
                }),
            }),
        )
        .containers;
    out.eq("pod: containers after RemoveContainer", left.len(), 0);
    cri.call(
        "StopPodSandbox",
        cri.rs().stop_pod_sandbox(cri::StopPodSandboxRequest {
            pod_sandbox_id: pod_id.clone(),
        }),
    );
    out.eq(
        "pod: state after StopPodSandbox",
        cri::PodSandboxState::try_from(cri.pod_status(&pod_id).status.unwrap_or_default().state)
            .map_or("?", |s| s.as_str_name()),
        "SANDBOX_NOTREADY",
    );
    cri.call(
        "RemovePodSandbox",
        cri.rs().remove_pod_sandbox(cri::RemovePodSandboxRequest {
            pod_sandbox_id: pod_id.clone(),
        }),
    );
    guard.done = true;
    let pods = cri
        .call(
            "ListPodSandbox",
            cri.rs().list_pod_sandbox(cri::ListPodSandboxRequest {
                filter: Some(cri::PodSandboxFilter {
                    id: pod_id.clone(),
                    ..Default::default()
                }),
            }),
        )
        .items;
    out.eq("pod: listed after RemovePodSandbox", pods.len(), 0);
}

/// Nothing of the pod is left on the host.
fn leftovers(w: &World, handler: &str, out: &mut Outcome, tr: &Traces) {
    if tr.pod_id.is_empty() {
        return;
    }
    // The shim and the processes may take a moment to go after RemovePodSandbox.
    let settle = Duration::from_secs(10);
    let mut seen = Vec::new();
    let gone = wait_until(settle, || {
        seen = processes_in_cgroup(&tr.cgroup_parent);
        seen.is_empty()
    });
    out.ok(
        "after: no process in the pod's cgroups",
        gone,
        format!("{seen:?}"),
    );
    let mut alive = Vec::new();
    let gone = wait_until(settle, || {
        alive = tr
            .procs
            .iter()
            .filter(|p| p.alive())
            .map(|p| p.pid)
            .collect();
        alive.is_empty()
    });
    out.ok(
        "after: the sandbox and container processes are gone",
        gone,
        format!("{alive:?}"),
    );
    let mut shim = Vec::new();
    let gone = wait_until(settle, || {
        shim = moat_tests::processes_matching(&tr.pod_id);
        shim.is_empty()
    });
    out.ok(
        "after: no process names the pod (shim)",
        gone,
        format!("{shim:?}"),
    );
    let mut sockets = Vec::new();
    let gone = wait_until(settle, || {
        sockets = dir_entries(Path::new("/run/containerd/s"))
            .into_iter()
            .filter(|s| !w.shim_sockets_before.contains(s))
            .collect();
        sockets.is_empty()
    });
    out.ok(
        "after: no shim socket in /run/containerd/s",
        gone,
        format!("{sockets:?}"),
    );

    let mounts = mounts_under(&w.dir);
    out.ok(
        "after: no mount under the test's containerd dirs",
        mounts.is_empty(),
        format!("{mounts:?}"),
    );
    let ids: Vec<&String> = std::iter::once(&tr.pod_id)
        .chain(&tr.container_ids)
        .collect();
    let named: Vec<String> = mountinfo()
        .into_iter()
        .filter(|l| ids.iter().any(|id| l.contains(id.as_str())))
        .collect();
    out.ok(
        "after: no mount names the pod or a container",
        named.is_empty(),
        format!("{named:?}"),
    );
    match &tr.netns {
        Some(ns) => {
            let ns_s = ns.display().to_string();
            let mounted = mountinfo().iter().any(|l| l.contains(&ns_s));
            out.ok(
                "after: the pod's netns is unmounted and removed",
                !ns.exists() && !mounted,
                format!("{ns_s} exists: {}, mounted: {mounted}", ns.exists()),
            );
        }
        None => out.ok(
            "after: the pod's netns is unmounted and removed",
            false,
            "not known",
        ),
    }
    let state = handler_root(&w.dir, handler).join(NS);
    let entries = dir_entries(&state);
    out.ok(
        "after: no state under the handler's runtime root",
        entries.is_empty(),
        format!("{}: {entries:?}", state.display()),
    );
    let cgroups: Vec<String> = cgroup_roots()
        .iter()
        .flat_map(|r| {
            let p = r.join(tr.cgroup_parent.trim_start_matches('/'));
            dir_entries(&p)
                .into_iter()
                .map(|e| p.join(e))
                .filter(|d| d.is_dir())
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    out.ok(
        "after: no cgroup left under the pod's parent",
        cgroups.is_empty(),
        format!("{cgroups:?}"),
    );
    let brif = dir_entries(&Path::new("/sys/class/net").join(BRIDGE).join("brif"));
    out.ok(
        &format!("after: no veth left on {BRIDGE}"),
        brif.is_empty(),
        format!("{brif:?}"),
    );
    let leases: Vec<String> = dir_entries(&w.dir.join("cni-ipam").join(CNI_NETWORK))
        .into_iter()
        .filter(|f| f.starts_with(SUBNET_PREFIX))
        .collect();
    out.ok(
        "after: the pod's IP lease is released",
        leases.is_empty(),
        format!("{leases:?}"),
    );
}

#[test]
fn cri_pod_under_runc_and_moat() {
    require_root!();
    let ci = std::env::var_os("CI").is_some();
    let missing = missing_containerd()
        .into_iter()
        .chain(
            ["bridge", "host-local", "loopback"]
                .iter()
                .filter(|p| !Path::new(CNI_BIN_DIR).join(p).is_file())
                .map(|p| format!("{CNI_BIN_DIR}/{p} (containernetworking-plugins)")),
        )
        .chain(find_program("runc").is_none().then(|| "runc".to_string()))
        .collect::<Vec<_>>();
    if !missing.is_empty() {
        assert!(!ci, "not installed: {missing:?} (make deps installs them)");
        eprintln!("SKIP: not installed: {missing:?} (make deps installs them)");
        return;
    }
    let runc = find_program("runc").expect("checked above");
    let t0 = Instant::now();
    let w = World::start(&runc);
    eprintln!(
        "containerd and images ready in {:.1} s",
        t0.elapsed().as_secs_f64()
    );

    let mut outcomes = Vec::new();
    for handler in HANDLERS {
        let mut out = Outcome::new(handler);
        let mut tr = Traces::default();
        let t = Instant::now();
        let r = catch_unwind(AssertUnwindSafe(|| {
            scenario(&w, handler, &mut out, &mut tr)
        }));
        if let Err(e) = r {
            out.fatal = Some(panic_text(e));
        }
        leftovers(&w, handler, &mut out, &tr);
        out.secs = t.elapsed().as_secs_f64();
        outcomes.push(out);
    }

    // ---- the report
    let mut report = String::new();
    for o in &outcomes {
        report += &format!(
            "\n== handler {}: {} checks, {} failed, {:.1} s\n",
            o.handler,
            o.checks.len(),
            o.failures().len(),
            o.secs
        );
        if let Some(f) = &o.fatal {
            report += &format!("  STOPPED: {f}\n");
        }
        for c in o.failures() {
            report += &format!(
                "  FAIL {}:\n    got:  {}\n    want: {}\n",
                c.what, c.got, c.want
            );
        }
        for s in &o.skipped {
            report += &format!("  skipped: {s}\n");
        }
    }
    // The outcomes must match: every check both ran must have seen the same thing.
    let reference = &outcomes[0];
    let mut moat_ok = true;
    for moat in &outcomes[1..] {
        let mut differ = Vec::new();
        for m in moat.checks.iter().filter(|m| !m.per_handler) {
            if let Some(r) = reference.checks.iter().find(|r| r.what == m.what) {
                if r.got != m.got {
                    differ.push(format!(
                        "  {}:\n    runc: {}\n    {}: {}",
                        m.what, r.got, moat.handler, m.got
                    ));
                }
            }
        }
        let not_reached: Vec<&str> = reference
            .checks
            .iter()
            .filter(|r| !moat.checks.iter().any(|m| m.what == r.what))
            .map(|r| r.what.as_str())
            .filter(|w| !w.starts_with("a+b:") || pod_in_one_sentry())
            .collect();
        if !differ.is_empty() {
            report += &format!(
                "\n== {} differs from runc:\n{}\n",
                moat.handler,
                differ.join("\n")
            );
        }
        if !not_reached.is_empty() {
            report += &format!(
                "\n== checks {} did not reach: {not_reached:?}\n",
                moat.handler
            );
        }
        moat_ok &= moat.fatal.is_none()
            && moat.failures().is_empty()
            && differ.is_empty()
            && not_reached.is_empty();
    }
    eprintln!("{report}\ntotal {:.1} s", t0.elapsed().as_secs_f64());
    let runc_ok = reference.fatal.is_none() && reference.failures().is_empty();
    if !(runc_ok && moat_ok) {
        let errors = w.containerd_errors();
        let tail: Vec<_> = errors.iter().rev().take(15).rev().collect();
        panic!(
            "{}the CRI pod scenario failed:{report}\ncontainerd errors (last {}):\n{}",
            if runc_ok {
                ""
            } else {
                "the runc REFERENCE run failed (a harness or host problem): "
            },
            tail.len(),
            tail.iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}

// ==========================================================================================
// The pod benchmark (`make bench`, phase `pod`; not part of `make test`)

/// Sum of PSS (KiB) over `pids`, from /proc/PID/smaps_rollup.
fn pss_kib(pids: &[i32]) -> u64 {
    pids.iter()
        .filter_map(|p| fs::read_to_string(format!("/proc/{p}/smaps_rollup")).ok())
        .filter_map(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Pss:"))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse::<u64>().ok())
        })
        .sum()
}

/// Every host process of the pod: those in its cgroups, and its shim (named after the pod's
/// sandbox id on its command line).
fn pod_processes(cgroup_parent: &str, pod_id: &str) -> Vec<i32> {
    let mut pids: Vec<i32> = processes_in_cgroup(cgroup_parent)
        .into_iter()
        .map(|(p, _)| p)
        .collect();
    for (p, cmd) in moat_tests::processes_matching(pod_id) {
        if cmd.contains("containerd-shim") && !pids.contains(&p) {
            pids.push(p);
        }
    }
    pids
}

/// One pod of `handler`: RunPodSandbox + CreateContainer + StartContainer timed, then the
/// pod's PSS with one container and with three (each `sleep 3600`), then teardown. Returns
/// (ms to a started container, PSS KiB with 1, with 3, processes with 3).
fn bench_pod(
    w: &World,
    handler: &str,
    n: u32,
    settle: Duration,
    pods: &mut Vec<String>,
) -> (f64, u64, u64, usize) {
    let cri = &w.cri;
    let spec = PodSpec::numbered(w, handler, n);
    let t0 = Instant::now();
    let pod_id = cri
        .call(
            "RunPodSandbox",
            cri.rs().run_pod_sandbox(cri::RunPodSandboxRequest {
                config: Some(spec.config.clone()),
                runtime_handler: handler.into(),
            }),
        )
        .pod_sandbox_id;
    pods.push(pod_id.clone());
    let mut guard = PodGuard {
        cri,
        id: pod_id.clone(),
        done: false,
    };
    let start_one = |name: &str| {
        let (config, _) = spec.container(name, "exec sleep 3600");
        let id = cri
            .call(
                "CreateContainer",
                cri.rs().create_container(cri::CreateContainerRequest {
                    pod_sandbox_id: pod_id.clone(),
                    config: Some(config),
                    sandbox_config: Some(spec.config.clone()),
                }),
            )
            .container_id;
        cri.call(
            "StartContainer",
            cri.rs().start_container(cri::StartContainerRequest {
                container_id: id.clone(),
            }),
        );
        id
    };
    let mut ids = vec![start_one("c1")];
    let started_ms = t0.elapsed().as_secs_f64() * 1e3;
    std::thread::sleep(settle);
    let pss1 = pss_kib(&pod_processes(&spec.cgroup_parent, &pod_id));
    ids.push(start_one("c2"));
    ids.push(start_one("c3"));
    std::thread::sleep(settle);
    let procs3 = pod_processes(&spec.cgroup_parent, &pod_id);
    let pss3 = pss_kib(&procs3);
    for id in ids {
        cri.call(
            "StopContainer",
            cri.rs().stop_container(cri::StopContainerRequest {
                container_id: id.clone(),
                timeout: 0,
            }),
        );
        cri.call(
            "RemoveContainer",
            cri.rs()
                .remove_container(cri::RemoveContainerRequest { container_id: id }),
        );
    }
    cri.call(
        "StopPodSandbox",
        cri.rs().stop_pod_sandbox(cri::StopPodSandboxRequest {
            pod_sandbox_id: pod_id.clone(),
        }),
    );
    cri.call(
        "RemovePodSandbox",
        cri.rs().remove_pod_sandbox(cri::RemovePodSandboxRequest {
            pod_sandbox_id: pod_id.clone(),
        }),
    );
    guard.done = true;
    (started_ms, pss1, pss3, procs3.len())
}

/// `make bench`'s pod phase: for each handler of `$BENCH_HANDLERS` (default `runc moat
/// runsc`), `$REPS` pods one after another; one JSON line per pod on stdout and in
/// `$MOAT_CRI_BENCH_OUT` when set:
/// `{"handler","started_ms","pss1_kib","pss3_kib","procs3"}`. A handler that fails prints
/// `{"handler","error"}` and the others go on.
#[test]
#[ignore = "a benchmark: make bench runs it"]
fn cri_pod_bench() {
    require_root!();
    if let Some(m) = missing_containerd() {
        eprintln!("skipped: {m} not installed");
        return;
    }
    let runc = find_program("runc").expect("runc is installed");
    let reps: u32 = std::env::var("REPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let settle = Duration::from_secs_f64(
        std::env::var("MEM_SETTLE")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(2.0),
    );
    let handlers = std::env::var("BENCH_HANDLERS").unwrap_or_else(|_| "runc moat runsc".into());
    let w = World::start(&runc);
    let mut lines = Vec::new();
    let mut pods = Vec::new();
    for handler in handlers.split_whitespace() {
        for n in 1..=reps {
            let r = catch_unwind(AssertUnwindSafe(|| {
                bench_pod(&w, handler, n, settle, &mut pods)
            }));
            let line = match r {
                Ok((ms, p1, p3, procs)) => serde_json::json!({
                    "handler": handler, "started_ms": ms, "pss1_kib": p1, "pss3_kib": p3,
                    "procs3": procs,
                }),
                Err(e) => serde_json::json!({"handler": handler, "error": panic_text(e)}),
            };
            println!("{line}");
            lines.push(line.to_string());
            if line.get("error").is_some() {
                break;
            }
        }
    }
    // A pod the CRI could not tear down (runsc's, when it fails under runc's shim) must not
    // outlive the benchmark: its shim names the pod, its runtime processes the test's dir.
    let dir = w.dir.display().to_string();
    let leftovers = pods
        .iter()
        .flat_map(|p| moat_tests::processes_matching(p))
        .filter(|(_, cmd)| cmd.contains("containerd-shim"))
        .chain(
            moat_tests::processes_matching(&dir)
                .into_iter()
                .filter(|(_, cmd)| cmd.contains("runsc")),
        );
    for (pid, _) in leftovers {
        // SAFETY: kill(2) on a leftover process of this benchmark.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    if let Ok(out) = std::env::var("MOAT_CRI_BENCH_OUT") {
        fs::write(&out, lines.join("\n") + "\n").expect("write MOAT_CRI_BENCH_OUT");
    }
}
