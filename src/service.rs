//! The one way a service thread runs (the vision worker, music and the Spotify account): it
//! takes requests on a channel of its own, answers with events that wake the UI, and a panic
//! inside it is reported as an event and the thread's body starts again (`restart_on_panic`),
//! until panics come in a loop. The threads that wait on the network share one tokio runtime.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::thread::JoinHandle;

use crate::Restart;

/// Called after each event: the window passes a repaint request.
pub(crate) type Notify = Arc<dyn Fn() + Send + Sync>;

/// A service's way to its caller: each event is followed by a wake-up.
pub(crate) struct Events<E> {
    tx: Sender<E>,
    notify: Notify,
}

impl<E> Clone for Events<E> {
    fn clone(&self) -> Self {
        Events {
            tx: self.tx.clone(),
            notify: self.notify.clone(),
        }
    }
}

impl<E> Events<E> {
    pub(crate) fn send(&self, e: E) {
        self.deliver(e);
    }

    /// Queues `e` without waking the caller: it is read at the next wake-up (`wake`).
    pub(crate) fn send_quiet(&self, e: E) {
        let _ = self.tx.send(e);
    }

    /// Wakes the caller for what was sent quietly.
    pub(crate) fn wake(&self) {
        (self.notify)();
    }

    /// False when the caller has gone away (the thread can stop).
    pub(crate) fn deliver(&self, e: E) -> bool {
        let sent = self.tx.send(e).is_ok();
        (self.notify)();
        sent
    }
}

/// A running service: its events, and its thread (None when it could not start, which was
/// logged).
pub(crate) struct Spawned<E> {
    pub(crate) events: Receiver<E>,
    pub(crate) thread: Option<JoinHandle<()>>,
}

/// Starts thread `name` running `body` until it returns. A panic in `body` becomes the event
/// `crashed` makes of it (logged too) and `body` runs again; a crash loop ends the thread after
/// its last report.
pub(crate) fn spawn<E: Send + 'static>(
    name: &str,
    notify: Notify,
    crashed: impl Fn(Restart) -> E + Send + 'static,
    mut body: impl FnMut(&Events<E>) + Send + 'static,
) -> Spawned<E> {
    let (tx, events) = channel();
    let out = Events { tx, notify };
    let label = name.to_string();
    let thread = std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            crate::restart_on_panic(
                || body(&out),
                |r| {
                    if let Restart::Panicked(msg) = &r {
                        tracing::error!("{label} thread panicked: {msg}");
                    }
                    out.deliver(crashed(r))
                },
            );
        })
        .map_err(|e| tracing::error!("cannot start the {name} thread: {e}"))
        .ok();
    Spawned { events, thread }
}

/// The runtime the network-bound threads (music, account) and the command line share: two
/// worker threads, started on first use. Its threads idle while nothing waits on the network.
pub fn runtime() -> Result<&'static tokio::runtime::Runtime, String> {
    static RT: std::sync::OnceLock<Result<tokio::runtime::Runtime, String>> =
        std::sync::OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("emotune-io")
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the network runtime: {e}"))
    })
    .as_ref()
    .map_err(Clone::clone)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    /// A body that panics twice is reported twice and then runs to its end; every event wakes
    /// the caller.
    #[test]
    fn a_panicking_service_reports_and_restarts() {
        let wakes = Arc::new(AtomicUsize::new(0));
        let w = wakes.clone();
        let mut lives = 0;
        let s = spawn(
            "test-service",
            Arc::new(move || {
                w.fetch_add(1, Ordering::SeqCst);
            }),
            |r| format!("{r:?}"),
            move |out| {
                lives += 1;
                if lives <= 2 {
                    panic!("life {lives}");
                }
                out.send("done".to_string());
            },
        );
        let got: Vec<String> = (0..3)
            .map(|_| {
                s.events
                    .recv_timeout(Duration::from_secs(5))
                    .expect("event")
            })
            .collect();
        assert_eq!(
            got,
            [
                "Panicked(\"life 1\")".to_string(),
                "Panicked(\"life 2\")".to_string(),
                "done".to_string()
            ]
        );
        s.thread.expect("started").join().expect("ends");
        assert_eq!(wakes.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn the_runtime_is_shared_and_runs_from_any_thread() {
        let a = runtime().expect("runtime") as *const _;
        let b = std::thread::spawn(|| runtime().expect("runtime") as *const _ as usize)
            .join()
            .expect("thread");
        assert_eq!(a as usize, b);
        let v = std::thread::spawn(|| runtime().expect("rt").block_on(async { 41 + 1 }))
            .join()
            .expect("thread");
        assert_eq!(v, 42);
    }
}
