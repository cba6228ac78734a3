//! The shim protocol's process side: `start` (containerd runs it with the bundle as working
//! directory; it starts the serving shim, or finds the pod's, and prints its address), `delete`
//! (cleanup after a shim that died), and serving (containerd_shim's ttrpc server with
//! [`Service`]).

use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use containerd_shim::api::DeleteResponse;
use containerd_shim::protos::protobuf::well_known_types::any::Any;
use containerd_shim::protos::protobuf::{Message, MessageField};
use containerd_shim::publisher::RemotePublisher;
use containerd_shim::util::write_address;
use containerd_shim::{Config, ExitSignal, Flags, StartOpts};

use crate::annotations::Placement;
use crate::error::Error;
use crate::moat::Moat;
use crate::options::ShimOptions;
use crate::service::{Service, STORED_OPTIONS};

pub struct MoatShim {
    namespace: String,
    id: String,
    bundle: PathBuf,
    exit: Arc<ExitSignal>,
}

/// The options containerd writes to `start`'s stdin (the task's or runtime's options `Any`):
/// checked here so a malformed options file fails the start with its message.
fn start_options() -> Result<ShimOptions, Error> {
    let mut stdin = std::io::stdin();
    if stdin.is_terminal() {
        return Ok(ShimOptions::default());
    }
    let mut data = Vec::new();
    stdin
        .read_to_end(&mut data)
        .map_err(Error::io("read the runtime options"))?;
    if data.is_empty() {
        return Ok(ShimOptions::default());
    }
    let any = Any::parse_from_bytes(&data)
        .map_err(|e| Error::InvalidArgument(format!("runtime options: {e}")))?;
    Ok(ShimOptions::from_any(&any.type_url, &any.value)?)
}

/// Whether a shim answers on ttrpc address `addr` (`unix:///run/containerd/s/<hash>`).
fn shim_answers(addr: &str) -> bool {
    let path = addr.strip_prefix("unix://").unwrap_or(addr);
    std::os::unix::net::UnixStream::connect(path).is_ok()
}

/// `start`: checks the options, finds the shim that serves this container (the pod's) and
/// returns its address.
fn start(opts: StartOpts) -> Result<String, Error> {
    start_options()?;
    let spec = std::fs::read_to_string("config.json")
        .map_err(Error::io("read the bundle's config.json"))?;
    let spec: serde_json::Value = serde_json::from_str(&spec)
        .map_err(|e| Error::InvalidArgument(format!("config.json: {e}")))?;
    let placement = Placement::from_annotations(&opts.id, spec["annotations"].as_object());
    if let Some(sb) = placement.sandbox() {
        // One shim per pod: the sandbox container started it; an application container
        // whose sandbox has none is refused rather than given a pod of its own.
        let addr = containerd_shim::socket_address(&opts.address, &opts.namespace, sb);
        if !shim_answers(&addr) {
            return Err(Error::NotFound(format!(
                "container {}: pod sandbox {sb} has no running moat shim (unknown sandbox \
                 id, or the sandbox is gone)",
                opts.id
            )));
        }
    }
    let grouping = placement.grouping(&opts.id).to_string();
    // Starts the serving shim; when the pod's shim already listens on the grouped address,
    // the new process finds it, writes its address and exits.
    let (pid, address) = containerd_shim::spawn(opts, &grouping, Vec::new())
        .map_err(|e| Error::Other(format!("start the shim: {e}")))?;
    if let Err(e) = containerd_shim::cgroup::adjust_oom_score(pid) {
        log::warn!("oom score of shim {pid}: {e}");
    }
    write_address(&address).map_err(|e| Error::Other(format!("write the address: {e}")))?;
    Ok(address)
}

impl containerd_shim::Shim for MoatShim {
    type T = Service;

    fn new(_runtime_id: &str, args: &Flags, _config: &mut Config) -> Self {
        MoatShim {
            namespace: args.namespace.clone(),
            id: args.id.clone(),
            bundle: PathBuf::from(&args.bundle),
            exit: Arc::new(ExitSignal::default()),
        }
    }

    fn start_shim(&mut self, opts: StartOpts) -> containerd_shim::Result<String> {
        match start(opts) {
            Ok(address) => Ok(address),
            Err(e) => {
                // containerd shows start's output in its error; containerd_shim would print
                // the error's Debug form, so say it here in plain words.
                eprintln!("containerd-shim-moat-v1: {e}");
                std::process::exit(1);
            }
        }
    }

    fn delete_shim(&mut self) -> containerd_shim::Result<DeleteResponse> {
        let bundle = if self.bundle.as_os_str().is_empty() {
            std::env::current_dir().map_err(Error::io("working directory"))?
        } else {
            self.bundle.clone()
        };
        let opts = std::fs::read(bundle.join(STORED_OPTIONS))
            .ok()
            .and_then(|b| serde_json::from_slice::<ShimOptions>(&b).ok())
            .unwrap_or_default();
        let moat = Moat::new(&opts, &self.namespace, &self.id, &bundle);
        if let Err(e) = moat.delete(&self.id, true) {
            eprintln!("moat delete {}: {e}", self.id);
        }
        crate::mount::unmount_all(&bundle.join("rootfs"));
        let _ = std::fs::remove_file(Path::new(&bundle).join("init.pid"));
        Ok(DeleteResponse {
            pid: 0,
            // The task was killed with its shim: report it as SIGKILL, as runc's shim does.
            exit_status: 128 + libc::SIGKILL as u32,
            exited_at: MessageField::some(containerd_shim::util::timestamp()?),
            ..Default::default()
        })
    }

    fn wait(&mut self) {
        self.exit.wait();
    }

    fn create_task_service(&self, publisher: RemotePublisher) -> Service {
        Service::new(&self.namespace, publisher, self.exit.clone())
    }
}
