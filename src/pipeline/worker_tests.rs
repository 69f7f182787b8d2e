//! The vision worker's loop driven by scripted sources: crashes, lost cameras, still scenes.

use std::collections::VecDeque;
use std::sync::Mutex;

use super::*;
use crate::capture::Next;

/// One step of a scripted source.
#[derive(Clone, Copy)]
enum Step {
    Frame(u32, u32),
    Fail,
    Stall(u64),
    Panic,
    End,
}

struct Scripted(VecDeque<Step>);

impl FrameSource for Scripted {
    fn name(&self) -> String {
        "scripted".into()
    }
    fn next(&mut self) -> Result<Next> {
        match self.0.pop_front() {
            Some(Step::Frame(w, h)) => Ok(Next::Frame(image::RgbImage::new(w, h))),
            Some(Step::Fail) => Err(Error::Camera("camera 0 is gone (unplugged)".into())),
            Some(Step::Stall(ms)) => {
                std::thread::sleep(Duration::from_millis(ms));
                Ok(Next::Wait(Duration::ZERO))
            }
            Some(Step::Panic) => panic!("driver bug"),
            Some(Step::End) => Ok(Next::End),
            None => Ok(Next::Wait(Duration::from_millis(20))),
        }
    }
}

/// A worker whose sources are scripts, chosen by the spec's path: "boom" panics in open().
fn worker(scripts: Vec<(&'static str, Vec<Step>)>, model: bool) -> Worker {
    worker_waking(scripts, model, Arc::new(|| {}))
}

fn worker_waking(
    scripts: Vec<(&'static str, Vec<Step>)>,
    model: bool,
    wake: Arc<dyn Fn() + Send + Sync>,
) -> Worker {
    let scripts = Mutex::new(scripts);
    let open: Opener = Arc::new(move |spec| {
        let SourceSpec::Path(p) = spec else {
            return Err(Error::Invalid("no cameras here".into()));
        };
        if p.as_os_str() == "boom" {
            panic!("open exploded");
        }
        let scripts = scripts
            .lock()
            .map_err(|_| Error::Invalid("poisoned".into()))?;
        let steps = scripts
            .iter()
            .find(|(n, _)| p.as_os_str() == *n)
            .map(|(_, s)| s.clone())
            .ok_or_else(|| Error::Invalid(format!("{}: no such script", p.display())))?;
        Ok(Box::new(Scripted(steps.into())) as Box<dyn FrameSource>)
    });
    let cfg = WorkerConfig {
        model: model.then(|| PathBuf::from("models/emotion_resnet18_cbam.pt")),
        settings: PipelineSettings::default(),
        inference_threads: 1,
        open,
    };
    Worker::spawn(cfg, wake)
}

/// Events until `done` says stop (or 10 s pass).
fn collect(w: &Worker, mut done: impl FnMut(&[Event]) -> bool) -> Vec<Event> {
    let start = Instant::now();
    let mut all = Vec::new();
    while start.elapsed() < Duration::from_secs(10) {
        all.extend(w.poll());
        if done(&all) {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    all
}

fn frames(ev: &[Event]) -> Vec<(u32, u32)> {
    ev.iter()
        .filter_map(|e| match e {
            Event::Frame(r) => Some(r.frame.dimensions()),
            _ => None,
        })
        .collect()
}

fn open(w: &Worker, name: &str) {
    w.send(Command::SetSource(SourceSpec::Path(name.into())));
}

#[test]
fn frames_of_a_still_scene_wake_the_window_a_few_times_a_second() {
    let wakes = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = wakes.clone();
    let wake = Arc::new(move || {
        counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    });
    // A camera at ~50 fps showing the same picture for a second.
    let steps = [Step::Frame(64, 48), Step::Stall(20)].repeat(50);
    let w = worker_waking(vec![("still", steps)], true, wake);
    open(&w, "still");
    let opened = wakes.load(std::sync::atomic::Ordering::SeqCst);
    let mut ev = collect(&w, |e| frames(e).len() >= 20);
    // Let the last frames in flight arrive.
    std::thread::sleep(Duration::from_millis(300));
    ev.extend(w.poll());
    let n = frames(&ev).len();
    let woke = wakes.load(std::sync::atomic::Ordering::SeqCst) - opened;
    assert!(n >= 20, "{n} frames");
    // Every frame arrives, but identical ones after the first wake nobody.
    assert!(woke * 2 < n, "{woke} wake-ups for {n} frames");
}

#[test]
fn a_window_that_looks_only_when_woken_sees_every_frame_of_a_still_source_that_ends() {
    let (tx, woken) = channel::<()>();
    let wake = Arc::new(move || {
        let _ = tx.send(());
    });
    // The end comes right behind the last frame, as a photo's does.
    let mut steps = [Step::Stall(20), Step::Frame(64, 48)].repeat(15);
    steps.push(Step::End);
    let w = worker_waking(vec![("once", steps)], true, wake);
    open(&w, "once");
    let mut seen = Vec::new();
    while woken.recv_timeout(Duration::from_secs(2)).is_ok() {
        seen.extend(w.poll());
    }
    assert!(
        seen.iter().any(|e| matches!(e, Event::SourceEnded)),
        "the end is reported"
    );
    assert!(frames(&seen).len() >= 5, "{} frames", frames(&seen).len());
    let unannounced = frames(&w.poll()).len();
    assert_eq!(unannounced, 0, "frames left without a wake-up");
}

#[test]
fn a_panic_in_the_worker_is_reported_and_it_restarts() {
    let w = worker(vec![("ok", vec![Step::Frame(64, 48)])], false);
    open(&w, "boom");
    let ev = collect(&w, |e| {
        e.iter()
            .any(|e| matches!(e, Event::Error(WorkerError::Panicked(_))))
    });
    let msg = ev.iter().find_map(|e| match e {
        Event::Error(p @ WorkerError::Panicked(_)) => Some(p.to_string()),
        _ => None,
    });
    assert!(msg.is_some_and(|m| m.contains("open exploded") && m.contains("restarted")));
    open(&w, "ok");
    let ev = collect(&w, |e| !frames(e).is_empty());
    assert_eq!(frames(&ev), vec![(64, 48)], "the restarted worker serves");
}

#[test]
fn a_lost_camera_is_reported_then_recovered_with_backoff() {
    let mut steps = vec![Step::Frame(64, 48)];
    steps.extend([Step::Fail; 4]);
    steps.push(Step::Frame(64, 48));
    let w = worker(vec![("cam", steps)], false);
    open(&w, "cam");
    let start = Instant::now();
    let ev = collect(&w, |e| frames(e).len() == 2);
    let kinds: Vec<&str> = ev
        .iter()
        .filter_map(|e| match e {
            Event::Frame(_) => Some("frame"),
            Event::Error(WorkerError::Capture(_)) => Some("error"),
            Event::SourceRecovered => Some("recovered"),
            _ => None,
        })
        .collect();
    // The first frame is still in the classifier when the capture error is sent, so the two
    // may arrive in either order; the outage itself is one error, then one recovery, then
    // frames again.
    let pos = |k: &str| kinds.iter().position(|x| *x == k);
    let count = |k: &str| kinds.iter().filter(|x| **x == k).count();
    assert_eq!(
        (count("error"), count("recovered"), count("frame")),
        (1, 1, 2),
        "reported once: {kinds:?}"
    );
    assert!(pos("error") < pos("recovered"), "{kinds:?}");
    assert_eq!(kinds.last(), Some(&"frame"), "{kinds:?}");
    // Four failures wait 100 + 200 + 400 + 800 ms before the camera is asked again.
    assert!(start.elapsed() >= Duration::from_millis(1500));
}

#[test]
fn a_stalled_source_does_not_block_commands() {
    let w = worker(
        vec![
            ("stall", vec![Step::Frame(64, 48), Step::Stall(3000)]),
            ("ok", vec![Step::Frame(32, 24)]),
        ],
        false,
    );
    open(&w, "stall");
    collect(&w, |e| !frames(e).is_empty());
    let start = Instant::now();
    open(&w, "ok");
    let ev = collect(&w, |e| !frames(e).is_empty());
    assert_eq!(frames(&ev), vec![(32, 24)]);
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn a_panicking_source_is_reopened() {
    let w = worker(
        vec![("flaky", vec![Step::Frame(64, 48), Step::Panic])],
        false,
    );
    open(&w, "flaky");
    let ev = collect(&w, |e| {
        e.iter()
            .filter(|e| matches!(e, Event::SourceOpened(_)))
            .count()
            == 2
    });
    assert!(ev.iter().any(|e| matches!(
        e,
        Event::Error(WorkerError::Capture(Error::SourceCrashed(m))) if m == "driver bug"
    )));
}

#[test]
fn resolution_changes_mid_stream_go_through_the_real_pipeline() {
    let sizes = [(640, 480), (320, 240), (1280, 720), (33, 17), (640, 480)];
    let steps = sizes.iter().map(|&(w, h)| Step::Frame(w, h)).collect();
    let w = worker(vec![("resize", steps)], true);
    open(&w, "resize");
    let ev = collect(&w, |e| frames(e).len() == sizes.len());
    assert!(
        !ev.iter()
            .any(|e| matches!(e, Event::ModelError(_) | Event::Error(_))),
        "{:?}",
        ev.iter()
            .filter(|e| !matches!(e, Event::Frame(_)))
            .collect::<Vec<_>>()
    );
    // Frames are taken newest-first, so a slow frame may be skipped; none is misread.
    for f in frames(&ev) {
        assert!(sizes.contains(&f), "{f:?}");
    }
    assert!(!frames(&ev).is_empty());
}
