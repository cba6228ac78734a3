//! Where a container belongs: containerd's CRI plugin marks each container of a pod with
//! `io.kubernetes.cri.container-type` (`sandbox` for the pod's pause container, `container`
//! for the others) and `io.kubernetes.cri.sandbox-id`. One shim serves a whole pod (runc's shim
//! groups the same way), and one sentry runs it: the app containers join the sandbox's.

use serde_json::{Map, Value};

pub const CONTAINER_TYPE: &str = "io.kubernetes.cri.container-type";
pub const SANDBOX_ID: &str = "io.kubernetes.cri.sandbox-id";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    /// Not part of a pod (ctr, docker, ...): a shim and a sandbox of its own.
    Standalone,
    /// The pod's sandbox (pause) container: it starts the pod's shim.
    PodSandbox { sandbox_id: String },
    /// An application container of the pod whose sandbox is `sandbox_id`.
    PodContainer { sandbox_id: String },
}

/// How `moat create` is asked to run a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Launch {
    /// A sandbox (sentry) of its own: `moat create --bundle B ID`.
    NewSandbox,
    /// Inside the running sandbox of container `0`: `moat create --sandbox <id>`.
    InSandbox(String),
}

impl Placement {
    pub fn from_annotations(id: &str, annotations: Option<&Map<String, Value>>) -> Placement {
        let get = |k: &str| {
            annotations
                .and_then(|a| a.get(k))
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
        };
        match (get(CONTAINER_TYPE), get(SANDBOX_ID)) {
            (Some("sandbox"), sid) => Placement::PodSandbox {
                sandbox_id: sid.unwrap_or(id).to_string(),
            },
            (Some("container"), Some(sid)) if sid != id => Placement::PodContainer {
                sandbox_id: sid.to_string(),
            },
            (Some("container"), Some(sid)) => Placement::PodSandbox {
                sandbox_id: sid.to_string(),
            },
            _ => Placement::Standalone,
        }
    }

    /// The id whose shim serves this container: the socket address is derived from it, so
    /// every container of a pod reaches the same shim process.
    pub fn grouping<'a>(&'a self, id: &'a str) -> &'a str {
        match self {
            Placement::Standalone => id,
            Placement::PodSandbox { sandbox_id } | Placement::PodContainer { sandbox_id } => {
                sandbox_id
            }
        }
    }

    /// The sandbox an application container must join, if any.
    pub fn sandbox(&self) -> Option<&str> {
        match self {
            Placement::PodContainer { sandbox_id } => Some(sandbox_id),
            _ => None,
        }
    }

    /// A pod's app container joins the sentry of its pod's sandbox (the shim gives all
    /// containers of a namespace one `--root`, so moat finds it there); everything else
    /// gets a sentry of its own.
    pub fn launch(&self) -> Launch {
        match self {
            Placement::PodContainer { sandbox_id } => Launch::InSandbox(sandbox_id.clone()),
            Placement::Standalone | Placement::PodSandbox { .. } => Launch::NewSandbox,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn place(id: &str, a: Value) -> Placement {
        Placement::from_annotations(id, a.as_object())
    }

    #[test]
    fn cri_annotations() {
        let sb = "f".repeat(64);
        let p = place(
            &sb,
            json!({CONTAINER_TYPE: "sandbox", SANDBOX_ID: sb, "io.kubernetes.cri.sandbox-name": "pod"}),
        );
        assert_eq!(
            p,
            Placement::PodSandbox {
                sandbox_id: sb.clone()
            }
        );
        assert_eq!(p.grouping(&sb), sb);
        assert_eq!(p.sandbox(), None);

        let p = place("app1", json!({CONTAINER_TYPE: "container", SANDBOX_ID: sb}));
        assert_eq!(
            p,
            Placement::PodContainer {
                sandbox_id: sb.clone()
            }
        );
        assert_eq!(p.grouping("app1"), sb);
        assert_eq!(p.sandbox(), Some(sb.as_str()));
        assert_eq!(p.launch(), Launch::InSandbox(sb.clone()));
        assert_eq!(
            place(&sb, json!({CONTAINER_TYPE: "sandbox", SANDBOX_ID: sb})).launch(),
            Launch::NewSandbox
        );
    }

    #[test]
    fn not_a_pod() {
        assert_eq!(place("c1", json!({})), Placement::Standalone);
        assert_eq!(
            Placement::from_annotations("c1", None),
            Placement::Standalone
        );
        assert_eq!(Placement::Standalone.grouping("c1"), "c1");
        // A container type without a sandbox id, or values of the wrong type: not a pod.
        assert_eq!(
            place("c1", json!({CONTAINER_TYPE: "container"})),
            Placement::Standalone
        );
        assert_eq!(
            place("c1", json!({CONTAINER_TYPE: 7, SANDBOX_ID: ["x"]})),
            Placement::Standalone
        );
        assert_eq!(
            place("c1", json!({CONTAINER_TYPE: "container", SANDBOX_ID: ""})),
            Placement::Standalone
        );
        // A sandbox type without an id is its own sandbox.
        assert_eq!(
            place("s1", json!({CONTAINER_TYPE: "sandbox"})),
            Placement::PodSandbox {
                sandbox_id: "s1".into()
            }
        );
    }
}
