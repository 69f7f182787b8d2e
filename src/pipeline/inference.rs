//! Classification as jobs for the second core (`second_core`, shared with the detector's full
//! scans), so that one frame's faces are classified while the next frame is scanned. On a new scene every frame the detector's two
//! threads leave that one partly idle, and classification fills it; with its own third thread
//! instead, the two cores were time-sliced between three and the frame took longer (cold set
//! 76–80 FPS against 84–88 run in turn).

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use crate::emotion::EmotionScores;
use crate::error::{Error, Result};
use crate::vision::EmotionClassifier;
use crate::vision::Task;
use crate::vision::preprocess::FaceInput;

/// One batch's scores and the time the classifier spent on it.
pub(crate) struct Scored {
    pub(crate) scores: Result<Vec<EmotionScores>>,
    pub(crate) took: Duration,
}

enum Outcome {
    Done(Scored),
    Panicked(Box<dyn std::any::Any + Send>),
}

pub(crate) struct Inference {
    clf: Arc<Mutex<EmotionClassifier>>,
    /// One receiver per job made and not yet received, oldest first.
    queued: VecDeque<mpsc::Receiver<Outcome>>,
}

impl Inference {
    pub(crate) fn new(clf: EmotionClassifier) -> Self {
        Inference {
            clf: Arc::new(Mutex::new(clf)),
            queued: VecDeque::new(),
        }
    }

    /// A job that classifies `faces`; run it on any thread, and `recv` gives its scores (jobs
    /// come back in the order they were made).
    pub(crate) fn job(&mut self, faces: Vec<FaceInput>) -> Task {
        let (tx, rx) = mpsc::channel();
        self.queued.push_back(rx);
        let clf = Arc::clone(&self.clf);
        Box::new(move || {
            let t0 = Instant::now();
            let run = catch_unwind(AssertUnwindSafe(|| match clf.lock() {
                Ok(c) => c.classify(&faces),
                Err(_) => Err(Error::Inference(
                    "the classifier failed on an earlier frame".into(),
                )),
            }));
            let out = match run {
                Ok(scores) => Outcome::Done(Scored {
                    scores,
                    took: t0.elapsed(),
                }),
                Err(panic) => Outcome::Panicked(panic),
            };
            // The receiver is gone only when the pipeline was dropped meanwhile.
            let _ = tx.send(out);
        })
    }

    /// The oldest job's scores, waiting for them. A panic inside the classifier is raised
    /// again here, on the caller's thread, so whoever supervises it (the vision worker restarts
    /// itself) sees it as before; a job dropped unrun (its thread died) is an error.
    pub(crate) fn recv(&mut self) -> Scored {
        let lost = || Scored {
            scores: Err(Error::Inference(
                "the classifier's thread has stopped".into(),
            )),
            took: Duration::ZERO,
        };
        let Some(rx) = self.queued.pop_front() else {
            return lost();
        };
        match rx.recv() {
            Ok(Outcome::Done(s)) => s,
            Ok(Outcome::Panicked(p)) => std::panic::resume_unwind(p),
            Err(_) => lost(),
        }
    }

    /// Waits for every job made and drops their scores.
    pub(crate) fn discard(&mut self) {
        while !self.queued.is_empty() {
            let _ = self.recv();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classifier() -> EmotionClassifier {
        let path = crate::vision::resolve_model_path(None).expect("shipped model");
        EmotionClassifier::load(&path).expect("model loads")
    }

    #[test]
    fn jobs_run_anywhere_come_back_in_order() {
        let mut inf = Inference::new(classifier());
        let one = inf.job(vec![Box::new([0.2; crate::vision::preprocess::INPUT_LEN])]);
        let none = inf.job(Vec::new());
        // The second job runs first, on another thread; the first runs here afterwards.
        std::thread::spawn(none).join().expect("job thread");
        one();
        let first = inf.recv().scores.expect("scores");
        let second = inf.recv().scores.expect("scores");
        assert_eq!((first.len(), second.len()), (1, 0));
    }

    #[test]
    fn a_job_dropped_unrun_is_an_error_not_a_hang() {
        let mut inf = Inference::new(classifier());
        drop(inf.job(Vec::new()));
        assert!(inf.recv().scores.is_err());
        // Nothing queued: also an error, at once.
        assert!(inf.recv().scores.is_err());
    }
}
