//! File work the window asks for, done on a thread of its own so a slow disk (a network home,
//! a sleeping USB drive) never stalls a frame: settings and profile saves, the timeline's CSV,
//! folder listings. Jobs run in order; dropping the worker waits for the ones queued, so a save
//! asked for on the way out still lands.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender};

use super::sources::Listing;

/// What a finished job reports to the window.
#[derive(Debug)]
pub(crate) enum Done {
    Settings(crate::Result<()>),
    Csv {
        path: PathBuf,
        result: std::io::Result<()>,
    },
    /// `what` was done to the profile; whether it reached the disk.
    Profile {
        what: String,
        result: crate::Result<()>,
    },
    Listing {
        dir: PathBuf,
        listing: Result<Listing, String>,
    },
}

pub(crate) type Job = Box<dyn FnOnce() -> Done + Send>;

pub(crate) struct FileWorker {
    tx: Option<Sender<Job>>,
    /// For jobs run here when the thread could not start.
    done_tx: Sender<Done>,
    done: Receiver<Done>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FileWorker {
    pub(crate) fn spawn(notify: Arc<dyn Fn() + Send + Sync>) -> FileWorker {
        let (tx, jobs) = std::sync::mpsc::channel::<Job>();
        let (done_tx, done) = std::sync::mpsc::channel();
        let here = done_tx.clone();
        let thread = std::thread::Builder::new()
            .name("files".into())
            .spawn(move || {
                for job in jobs {
                    let _ = done_tx.send(job());
                    notify();
                }
            })
            .map_err(|e| tracing::warn!("cannot start the file thread: {e}"))
            .ok();
        FileWorker {
            tx: Some(tx),
            done_tx: here,
            done,
            thread,
        }
    }

    /// Queues `job`; without a thread (it could not start) it runs here rather than not at all.
    pub(crate) fn run(&self, job: impl FnOnce() -> Done + Send + 'static) {
        let job: Job = Box::new(job);
        let Some(tx) = self.tx.as_ref().filter(|_| self.thread.is_some()) else {
            let _ = self.done_tx.send(job());
            return;
        };
        if let Err(e) = tx.send(job) {
            let _ = self.done_tx.send((e.0)());
        }
    }

    pub(crate) fn poll(&self) -> Vec<Done> {
        self.done.try_iter().collect()
    }
}

impl Drop for FileWorker {
    fn drop(&mut self) {
        self.tx = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
