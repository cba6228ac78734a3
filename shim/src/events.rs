//! Task events for containerd (`/tasks/create`, `/tasks/exit`, ...), forwarded over containerd's
//! ttrpc events service by one thread, so they leave in the order the shim made them and a slow
//! containerd never holds up a task call.

use std::sync::mpsc::{channel, Sender};
use std::sync::Mutex;

use containerd_shim::protos::protobuf::MessageDyn;
use containerd_shim::publisher::RemotePublisher;
use containerd_shim::Context;

type Event = (&'static str, Box<dyn MessageDyn>);

pub struct Events {
    tx: Mutex<Sender<Event>>,
}

impl Events {
    pub fn start(publisher: RemotePublisher, namespace: String) -> Events {
        let (tx, rx) = channel::<Event>();
        let spawned = std::thread::Builder::new()
            .name("events".into())
            .spawn(move || {
                for (topic, ev) in rx.iter() {
                    if let Err(e) = publisher.publish(Context::default(), topic, &namespace, ev) {
                        log::error!("publish {topic}: {e}");
                    }
                }
            });
        if let Err(e) = spawned {
            log::error!("cannot start the events thread: {e}; no events will be published");
        }
        Events { tx: Mutex::new(tx) }
    }

    pub fn send(&self, topic: &'static str, event: impl MessageDyn) {
        log::debug!("event {topic}");
        let tx = self.tx.lock().unwrap_or_else(|e| e.into_inner());
        if tx.send((topic, Box::new(event))).is_err() {
            log::error!("event {topic} dropped: the events thread is gone");
        }
    }
}
