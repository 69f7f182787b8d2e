//! The second core's thread: boxed tasks run in the order sent. The detector gives it the
//! coarse half of a full scan and whole background scans; the pipeline its classification
//! (`inference`), so one frame's faces are classified while the next frame is scanned.

use std::sync::mpsc;

use crate::Restart;
use crate::vision::{DetectorSettings, FaceDetector, Offload, Task};

/// The thread and the channel its tasks come through. Dropping it lets the thread finish the
/// tasks already sent, then waits for it.
pub(crate) struct SecondCore {
    tasks: Option<mpsc::Sender<Task>>,
    /// Joined on drop: a thread still inside libtorch when the process exits crashes it.
    thread: Option<std::thread::JoinHandle<()>>,
}

impl SecondCore {
    /// Starts the thread; None when the OS gives none (callers then do the work themselves).
    pub fn spawn() -> Option<SecondCore> {
        let (tasks, rx) = mpsc::channel::<Task>();
        let thread = std::thread::Builder::new()
            .name("emotune-detect".into())
            .spawn(move || serve(&rx))
            .map_err(|e| tracing::warn!("no second thread, one core does all: {e}"))
            .ok()?;
        Some(SecondCore {
            tasks: Some(tasks),
            thread: Some(thread),
        })
    }
}

/// Runs tasks until the channel closes. A task that panics is reported and the next one runs
/// (its sender sees its answer dropped); a crash loop ends the thread, and sends fail from then.
fn serve(rx: &mpsc::Receiver<Task>) {
    crate::restart_on_panic(
        || rx.iter().for_each(|task| task()),
        |r| {
            match r {
                Restart::Panicked(msg) => tracing::error!("a second-core task panicked: {msg}"),
                Restart::GaveUp(n) => {
                    tracing::error!("the second core stops after {n} panics; one core does all");
                }
            }
            true
        },
    );
}

impl Offload for SecondCore {
    fn send(&self, task: Task) -> Result<(), Task> {
        match &self.tasks {
            Some(tx) => tx.send(task).map_err(|mpsc::SendError(t)| t),
            None => Err(task),
        }
    }
}

impl Drop for SecondCore {
    fn drop(&mut self) {
        drop(self.tasks.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A detector whose full scans use the second core (one thread alone if none starts).
pub fn detector(settings: DetectorSettings) -> crate::error::Result<FaceDetector> {
    let d = FaceDetector::single(settings)?;
    Ok(match SecondCore::spawn() {
        Some(core) => d.with_helper(Box::new(core)),
        None => d,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tasks_run_in_order_and_a_panic_does_not_stop_the_thread() {
        let core = SecondCore::spawn().expect("thread");
        let (tx, rx) = mpsc::channel();
        for i in 0..3 {
            let tx = tx.clone();
            let task: Task = Box::new(move || {
                assert_ne!(i, 1, "task 1 panics");
                let _ = tx.send(i);
            });
            assert!(core.send(task).is_ok());
        }
        drop(core);
        assert_eq!(rx.try_iter().collect::<Vec<_>>(), [0, 2]);
    }
}
