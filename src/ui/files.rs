//! File work the window asks for, done on a thread of its own so a slow disk (a network home,
//! a sleeping USB drive) never stalls a frame: settings and profile saves, the timeline's CSV,
//! folder listings. Jobs run in order; dropping the worker waits for the ones queued, so a save
//! asked for on the way out still lands.

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, Sender};

use crate::service::Notify;

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
    /// A job panicked; the message for the window.
    Crashed(String),
}

pub(crate) type Job = Box<dyn FnOnce() -> Done + Send>;

/// A job that panicked (a bug, not a disk error): what the window tells the user. The thread
/// goes on with the next job (`service::spawn`).
fn crashed(r: crate::Restart) -> Done {
    Done::Crashed(match r {
        crate::Restart::Panicked(msg) => format!("a file job failed ({msg})"),
        crate::Restart::GaveUp(n) => {
            format!("the file thread failed {n} times in a row and stopped")
        }
    })
}

pub(crate) struct FileWorker {
    tx: Option<Sender<Job>>,
    /// For jobs run here when the thread could not start.
    done_tx: Sender<Done>,
    done: Receiver<Done>,
    /// The thread's answers (`service::Events`), then `done`'s.
    events: Receiver<Done>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FileWorker {
    pub(crate) fn spawn(notify: Notify) -> FileWorker {
        let (tx, jobs) = std::sync::mpsc::channel::<Job>();
        let (done_tx, done) = std::sync::mpsc::channel();
        let spawned = crate::service::spawn("files", notify, crashed, move |out| {
            for job in jobs.iter() {
                out.send(job());
            }
        });
        FileWorker {
            tx: Some(tx),
            done_tx,
            done,
            events: spawned.events,
            thread: spawned.thread,
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
        self.events.try_iter().chain(self.done.try_iter()).collect()
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn wait(w: &FileWorker, n: usize) -> Vec<Done> {
        let mut got = Vec::new();
        let t0 = std::time::Instant::now();
        while got.len() < n && t0.elapsed() < std::time::Duration::from_secs(10) {
            got.extend(w.poll());
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        got
    }

    /// A job that panics is reported as a crash, the jobs after it still run in order, and
    /// every answer wakes the window.
    #[test]
    fn a_panicking_job_is_reported_and_the_next_ones_run() {
        let wakes = Arc::new(AtomicUsize::new(0));
        let w2 = wakes.clone();
        let w = FileWorker::spawn(Arc::new(move || {
            w2.fetch_add(1, Ordering::SeqCst);
        }));
        w.run(|| panic!("disk on fire"));
        w.run(|| Done::Settings(Ok(())));
        let got = wait(&w, 2);
        assert!(
            matches!(&got[..], [Done::Crashed(m), Done::Settings(Ok(()))] if m.contains("disk on fire")),
            "{got:?}"
        );
        assert_eq!(wakes.load(Ordering::SeqCst), 2);
    }

    /// Dropping the worker waits for the queued jobs: a save asked for on the way out lands.
    #[test]
    fn dropping_the_worker_finishes_the_queued_jobs() {
        let ran = Arc::new(AtomicUsize::new(0));
        let w = FileWorker::spawn(Arc::new(|| {}));
        for _ in 0..3 {
            let r = ran.clone();
            w.run(move || {
                std::thread::sleep(std::time::Duration::from_millis(20));
                r.fetch_add(1, Ordering::SeqCst);
                Done::Settings(Ok(()))
            });
        }
        drop(w);
        assert_eq!(ran.load(Ordering::SeqCst), 3);
    }
}
