//! Per-frame stage timings and the window the status line summarises them over.

use std::time::Duration;

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Timings {
    pub(crate) detect: Duration,
    pub(crate) classify: Duration,
    pub(crate) total: Duration,
    /// Whether this frame ran a full-frame scan (else only windows around tracks).
    pub full_scan: bool,
    /// Faces classified this frame (tracks not seen this frame keep their last scores).
    pub(crate) classified: usize,
    /// The frame did not change from the last one analysed: its result was carried over.
    pub(crate) reused: bool,
    /// Reused, and it looked like the frame it was answered from (a still scene).
    pub(crate) unchanged: bool,
}

/// The last frames' timings, summarised by their median so a status line does not jump with
/// every periodic full scan. Each stage's median is over the frames in which it ran: at a
/// camera's pace a settled face is analysed every other frame and classified only now and then,
/// and a median with the skipped frames in it would read 0 ms. Worked out once per frame, not
/// per repaint.
#[derive(Debug, Default)]
pub(crate) struct TimingWindow {
    recent: std::collections::VecDeque<Timings>,
    median: Option<Timings>,
}

impl TimingWindow {
    pub(crate) const LEN: usize = 30;

    pub(crate) fn push(&mut self, t: Timings) {
        if self.recent.len() == Self::LEN {
            self.recent.pop_front();
        }
        self.recent.push_back(t);
        let med = |ran: fn(&Timings) -> bool, f: fn(&Timings) -> Duration| {
            let mut v: Vec<Duration> = self.recent.iter().filter(|t| ran(t)).map(f).collect();
            v.sort_unstable();
            v.get(v.len() / 2).copied().unwrap_or_default()
        };
        let analysed = |t: &Timings| !t.reused;
        self.median = Some(Timings {
            detect: med(analysed, |t| t.detect),
            classify: med(|t| t.classified > 0, |t| t.classify),
            total: med(analysed, |t| t.total),
            full_scan: false,
            classified: 0,
            reused: false,
            unchanged: false,
        });
    }

    /// Median detect, classify and total time (each on its own, over the frames that ran it).
    pub(crate) fn median(&self) -> Option<Timings> {
        self.median
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(detect: u64, classify: u64) -> Timings {
        Timings {
            detect: Duration::from_millis(detect),
            classify: Duration::from_millis(classify),
            total: Duration::from_millis(detect + classify),
            full_scan: false,
            classified: 1,
            reused: false,
            unchanged: false,
        }
    }

    #[test]
    fn timing_window_reports_the_median_of_the_last_frames() {
        let mut w = TimingWindow::default();
        assert_eq!(w.median(), None);
        // Nine tracked frames and one full scan: the scan does not move the median.
        for i in 0..10 {
            w.push(if i == 9 { ms(30, 3) } else { ms(3, 2) });
        }
        let m = w.median().expect("frames");
        assert_eq!(
            (m.detect, m.classify),
            (Duration::from_millis(3), Duration::from_millis(2))
        );
        // Only the last LEN frames count: after LEN slow frames the median is slow.
        for _ in 0..TimingWindow::LEN {
            w.push(ms(20, 8));
        }
        let m = w.median().expect("frames");
        assert_eq!(
            (m.detect, m.total),
            (Duration::from_millis(20), Duration::from_millis(28))
        );
    }

    #[test]
    fn a_stage_skipped_in_most_frames_reports_the_frames_that_ran_it() {
        let mut w = TimingWindow::default();
        // A settled face: two frames in three answered from the last one (no detection), a
        // face classified in one frame of ten; a frame classifying nothing still takes a few
        // microseconds.
        for i in 0..TimingWindow::LEN {
            let mut t = ms(2, 5);
            if i % 3 != 0 {
                t.reused = true;
                t.detect = Duration::ZERO;
            }
            if i % 10 != 0 {
                t.classified = 0;
                t.classify = Duration::from_micros(3);
            }
            w.push(t);
        }
        let m = w.median().expect("frames");
        assert_eq!(
            (m.detect, m.classify),
            (Duration::from_millis(2), Duration::from_millis(5))
        );
        // No stage ran at all (frames carried over): zero, not a panic.
        let mut idle = TimingWindow::default();
        let mut carried = ms(0, 0);
        (carried.reused, carried.classified) = (true, 0);
        idle.push(carried);
        assert_eq!(idle.median().map(|m| m.total), Some(Duration::ZERO));
    }
}
