//! Work a steady scene does not need (issue 40). A camera delivers 30 frames a second but the
//! mood needs seconds: a frame that did not change is answered from the last one, a tracked
//! face whose mood is settled is classified a few times a second rather than every frame, and
//! an empty room is searched for faces a few times a second rather than every frame.
//!
//! Between classifications a face's smoothed scores keep moving toward its last classification
//! once per frame, as if each frame had been classified the same (`Tracker::hold`): the mood's
//! timing stays that of a face classified every frame.

use std::time::Duration;

use image::RgbImage;

use super::tracking::Track;

#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub(crate) struct EconomySettings {
    /// While the mood is settled, a tracked face is classified at most this often (unless its
    /// box changed, see `reclassify_iou`); zero classifies every frame.
    #[serde(with = "super::mood::secs")]
    pub(crate) classify_every: Duration,
    /// While the mood is changing, a face is classified at most this often: every second frame
    /// of a 30 fps camera. The mood takes seconds to change, and between classifications the
    /// smoothed scores keep moving toward the last one, so it changes just as soon.
    #[serde(with = "super::mood::secs")]
    pub(crate) classify_changing: Duration,
    /// A face whose box overlaps the box it was last classified in by less than this is
    /// classified again at once.
    pub(crate) reclassify_iou: f32,
    /// A frame none of whose cells (of a 32×24 grid, once the frame-wide change of light is
    /// taken out) changed by more than this many grey levels since the last analysed frame is
    /// answered from that frame; zero analyses every frame. Sensor noise moves a cell by under
    /// one level; an expression changes the cells of the mouth and eyes by tens.
    pub(crate) still_levels: f32,
    /// A frame is analysed at least this often, changed or not.
    #[serde(with = "super::mood::secs")]
    pub(crate) still_refresh: Duration,
    /// With no face (nor a candidate) for this long the room counts as empty ...
    #[serde(with = "super::mood::secs")]
    pub(crate) idle_after: Duration,
    /// ... and only every this many frames is searched for one (someone walking in is found a
    /// third of a second later at 30 fps).
    pub(crate) idle_scan_every: u32,
    /// While the mood is settled, frames with a face are analysed at most this often: half of a
    /// 30 fps camera's frames, the others answered from the last (a face moves little in a
    /// fifteenth of a second, and its scores are held as between classifications).
    #[serde(with = "super::mood::secs")]
    pub(crate) track_every: Duration,
    /// While the mood is settled, the full-frame scan for newcomers runs every this many analysed
    /// frames (2 s at the 15 a second `track_every` leaves) instead of
    /// `PipelineSettings::rescan_every` (each costs as much as several frames).
    pub(crate) steady_rescan_every: u32,
}

impl Default for EconomySettings {
    fn default() -> Self {
        EconomySettings {
            classify_every: Duration::from_millis(200),
            classify_changing: Duration::from_millis(60),
            reclassify_iou: 0.5,
            still_levels: 3.0,
            still_refresh: Duration::from_secs(2),
            idle_after: Duration::from_secs(2),
            idle_scan_every: 10,
            steady_rescan_every: 30,
            track_every: Duration::from_millis(60),
        }
    }
}

impl EconomySettings {
    /// Everything analysed and classified every frame, as before issue 40 (the throughput
    /// bench, which measures what each stage costs).
    pub(crate) fn off() -> Self {
        EconomySettings {
            classify_every: Duration::ZERO,
            classify_changing: Duration::ZERO,
            still_levels: 0.0,
            idle_scan_every: 1,
            steady_rescan_every: 0,
            track_every: Duration::ZERO,
            ..Default::default()
        }
    }
}

const COLS: usize = 32;
const ROWS: usize = 24;
type Thumb = [f32; COLS * ROWS];

/// Mean brightness ((R + 2G + B) / 4) of each cell, from every fourth pixel of every second
/// row (~40 k reads at 640×480, 50 per cell: sensor noise averages out).
fn thumbnail(frame: &RgbImage) -> Thumb {
    let (w, h) = (frame.width() as usize, frame.height() as usize);
    let mut sums = [0u32; COLS * ROWS];
    let mut counts = [0u32; COLS * ROWS];
    let raw = frame.as_raw();
    // Each sampled column's cell, worked out once rather than divided out per pixel.
    let cols: Vec<(usize, usize)> = (0..w).step_by(4).map(|x| (x * 3, x * COLS / w)).collect();
    for y in (0..h).step_by(2) {
        let cell_row = (y * ROWS / h) * COLS;
        let line = &raw[y * w * 3..(y + 1) * w * 3];
        for &(i, c) in &cols {
            let p = &line[i..i + 3];
            sums[cell_row + c] += u32::from(p[0]) + 2 * u32::from(p[1]) + u32::from(p[2]);
            counts[cell_row + c] += 4;
        }
    }
    let mut out = [0.0; COLS * ROWS];
    for ((o, s), c) in out.iter_mut().zip(sums).zip(counts) {
        *o = if c == 0 { 0.0 } else { s as f32 / c as f32 };
    }
    out
}

/// The largest change of a cell from `last` to `now` once a frame-wide gain and offset (light,
/// exposure) are fitted out.
fn largest_change(now: &Thumb, last: &Thumb) -> f32 {
    let n = (COLS * ROWS) as f32;
    let (mn, ml) = (now.iter().sum::<f32>() / n, last.iter().sum::<f32>() / n);
    let (mut cov, mut var) = (0.0, 0.0);
    for (a, b) in now.iter().zip(last) {
        cov += (a - mn) * (b - ml);
        var += (b - ml) * (b - ml);
    }
    let gain = if var > 0.0 {
        (cov / var).clamp(0.5, 2.0)
    } else {
        1.0
    };
    now.iter()
        .zip(last)
        .map(|(a, b)| (a - mn - gain * (b - ml)).abs())
        .fold(0.0, f32::max)
}

/// What the pipeline remembers to decide which work a frame needs.
#[derive(Debug, Default)]
pub(crate) struct Economy {
    /// The last analysed frame's thumbnail and size.
    reference: Option<(Thumb, (u32, u32))>,
    last_analysis: Option<Duration>,
    /// Frames answered from the last analysed one since it.
    reused: u32,
    /// Until when the room counts as occupied.
    busy_until: Option<Duration>,
    /// A face seen in the last analysed frame was left unclassified: analyse the next frame.
    pub(crate) pending: bool,
    /// The stable mood holds with no challenger.
    pub(crate) settled: bool,
}

/// What a frame needs, and why it needs no analysis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    Analyse,
    /// A settled face was analysed less than `track_every` ago (the frame is not looked at).
    Paced,
    /// It looks like the last analysed frame.
    Unchanged,
    /// An empty room between searches.
    Waiting,
}

impl Economy {
    /// Forget everything (a new source, new settings): the next frame is analysed.
    pub(crate) fn clear(&mut self) {
        *self = Economy::default();
    }

    /// Whether `frame` must be analysed (if so it becomes the reference), or why not.
    /// `tracks`: whether any track (confirmed or not) is held.
    pub(crate) fn verdict(
        &mut self,
        s: &EconomySettings,
        frame: &RgbImage,
        at: Duration,
        tracks: bool,
    ) -> Verdict {
        let since = self.last_analysis.map(|t| at.saturating_sub(t));
        let stale = since.is_none_or(|d| d >= s.still_refresh);
        // Checked before the thumbnail: a paced frame costs nothing.
        let paced = self.settled && tracks && since.is_some_and(|d| d < s.track_every);
        if !stale && paced {
            self.reused += 1;
            return Verdict::Paced;
        }
        let thumb = thumbnail(frame);
        let size = frame.dimensions();
        let unchanged = s.still_levels > 0.0
            && !self.pending
            && frame.width() as usize >= COLS * 2
            && frame.height() as usize >= ROWS * 2
            && self.reference.is_some_and(|(last, sz)| {
                sz == size && largest_change(&thumb, &last) <= s.still_levels
            });
        let idle = !tracks && self.busy_until.is_some_and(|b| at >= b);
        let waiting = idle && self.reused + 1 < s.idle_scan_every;
        if !stale && (unchanged || waiting) {
            self.reused += 1;
            return if unchanged {
                Verdict::Unchanged
            } else {
                Verdict::Waiting
            };
        }
        self.reference = Some((thumb, size));
        self.last_analysis = Some(at);
        self.reused = 0;
        if tracks || self.busy_until.is_none() {
            self.busy_until = Some(at + s.idle_after);
        }
        Verdict::Analyse
    }

    /// `verdict` as a yes or no.
    #[cfg(test)]
    fn analyse(&mut self, s: &EconomySettings, frame: &RgbImage, at: Duration, t: bool) -> bool {
        self.verdict(s, frame, at, t) == Verdict::Analyse
    }

    /// Whether track `t`, seen in the frame at `at`, is classified in it.
    pub(crate) fn classify(&self, s: &EconomySettings, t: &Track, at: Duration) -> bool {
        let Some((when, bbox)) = t.classified else {
            return true;
        };
        let since = at.saturating_sub(when);
        if !self.settled {
            return since >= s.classify_changing;
        }
        s.classify_every.is_zero()
            || since >= s.classify_every
            || bbox.iou(&t.bbox) < s.reclassify_iou
    }

    /// The periodic full-frame scan's interval in frames.
    pub(crate) fn rescan_every(&self, s: &EconomySettings, normal: u32) -> u32 {
        if self.settled && s.steady_rescan_every > 0 {
            s.steady_rescan_every.max(normal)
        } else {
            normal
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vision::BBox;

    /// A textured 640×480 room, a bright square (a mouth, say) at `x`, brightness `gain`, and
    /// fresh noise of ±3 levels from `noise`.
    fn room(x: u32, gain: f32, noise: u64) -> RgbImage {
        let mut s = noise.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        RgbImage::from_fn(640, 480, |px, py| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            let j = (s >> 40) as f32 / (1u64 << 24) as f32 * 6.0 - 3.0;
            let h = (px / 16 * 31 + py / 16 * 17) % 251;
            let mut v = 40.0 + (h % 160) as f32;
            if (x..x + 40).contains(&px) && (200..230).contains(&py) {
                v = 230.0;
            }
            let v = (v * gain + j).clamp(0.0, 255.0) as u8;
            image::Rgb([v, v, v])
        })
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn unchanged_frames_are_reused_until_something_changes_or_the_refresh_is_due() {
        let s = EconomySettings::default();
        let mut e = Economy::default();
        assert!(
            e.analyse(&s, &room(100, 1.0, 1), ms(0), true),
            "the first frame"
        );
        assert_eq!(
            e.verdict(&s, &room(100, 1.0, 2), ms(33), true),
            Verdict::Unchanged,
            "only noise"
        );
        assert!(
            !e.analyse(&s, &room(100, 0.9, 3), ms(66), true),
            "the light dimmed"
        );
        assert!(
            e.analyse(&s, &room(110, 0.9, 4), ms(100), true),
            "the square moved"
        );
        assert!(!e.analyse(&s, &room(110, 0.9, 5), ms(133), true));
        e.pending = true;
        assert!(
            e.analyse(&s, &room(110, 0.9, 6), ms(166), true),
            "a face left unclassified is looked at again"
        );
        e.pending = false;
        let late = ms(166) + s.still_refresh;
        assert!(e.analyse(&s, &room(110, 0.9, 7), late, true), "the refresh");
        assert!(
            e.analyse(
                &s,
                &image::imageops::crop_imm(&room(110, 0.9, 8), 0, 0, 320, 240).to_image(),
                late,
                true
            ),
            "a new size"
        );
        let every = EconomySettings::off();
        let mut e = Economy::default();
        for i in 0..5 {
            assert!(e.analyse(&every, &room(100, 1.0, 1), ms(33 * i), true));
        }
    }

    #[test]
    fn an_empty_room_is_searched_every_few_frames() {
        let s = EconomySettings::default();
        let mut e = Economy::default();
        // Something moves every frame (the square), nobody is there.
        let mut analysed = Vec::new();
        for i in 0..100u32 {
            let at = ms(33 * u64::from(i));
            let v = e.verdict(&s, &room(100 + 4 * i, 1.0, 9), at, false);
            assert_ne!(v, Verdict::Unchanged, "the square moved");
            analysed.push(v == Verdict::Analyse);
        }
        let idle_from = (s.idle_after.as_millis() / 33) as usize + 1;
        assert!(analysed[..idle_from].iter().all(|a| *a), "not idle yet");
        let later = &analysed[idle_from + 10..];
        let n = later.iter().filter(|a| **a).count();
        let every = s.idle_scan_every as usize;
        assert!(
            n.abs_diff(later.len() / every) <= 1,
            "{n} of {}",
            later.len()
        );
        // A face (a track) ends the idling at once.
        assert!(e.analyse(&s, &room(600, 1.0, 9), ms(3400), true));
        assert!(e.analyse(&s, &room(100, 1.0, 9), ms(3433), true));
    }

    #[test]
    fn a_settled_face_is_looked_for_in_every_second_frame() {
        let s = EconomySettings::default();
        let mut e = Economy::default();
        let frames = |e: &mut Economy, from: u32| -> Vec<bool> {
            (from..from + 6)
                .map(|i| e.analyse(&s, &room(100 + 4 * i, 1.0, 9), ms(33 * u64::from(i)), true))
                .collect()
        };
        assert!(frames(&mut e, 0).iter().all(|a| *a), "the mood is changing");
        e.settled = true;
        assert_eq!(frames(&mut e, 6), [false, true, false, true, false, true]);
        // The very same picture, paced: skipped without a look, so not called unchanged.
        assert_eq!(
            e.verdict(&s, &room(100 + 4 * 11, 1.0, 9), ms(33 * 12), true),
            Verdict::Paced
        );
        // Nobody there: pacing is for tracked faces (the empty room has its own rule).
        let mut e = Economy {
            settled: true,
            ..Economy::default()
        };
        assert!(e.analyse(&s, &room(100, 1.0, 9), ms(0), false));
        assert!(e.analyse(&s, &room(104, 1.0, 9), ms(33), false));
    }

    fn track(x: f32, classified: Option<(Duration, BBox)>) -> Track {
        Track {
            id: 1,
            bbox: BBox::new(x, 100.0, 100.0, 100.0),
            roll: 0.0,
            scores: None,
            raw: None,
            age: 5,
            misses: 0,
            confirmed: true,
            classified,
            held: None,
            unadjusted: None,
        }
    }

    #[test]
    fn a_settled_face_is_classified_every_so_often_or_when_its_box_changes() {
        let s = EconomySettings::default();
        let mut e = Economy::default();
        let before = Some((ms(1000), BBox::new(100.0, 100.0, 100.0, 100.0)));
        let soon = ms(1000) + s.classify_every / 2;
        assert!(e.classify(&s, &track(105.0, before), soon), "no mood yet");
        let next_frame = ms(1033);
        assert!(
            !e.classify(&s, &track(105.0, before), next_frame),
            "a changing mood: every second frame"
        );
        e.settled = true;
        assert!(
            e.classify(&s, &track(105.0, None), soon),
            "never classified"
        );
        assert!(
            !e.classify(&s, &track(105.0, before), soon),
            "classified lately"
        );
        assert!(e.classify(&s, &track(105.0, before), ms(1000) + s.classify_every));
        assert!(
            e.classify(&s, &track(170.0, before), soon),
            "moved by most of itself"
        );
        assert!(EconomySettings::off().classify_every.is_zero());
        assert!(e.classify(&EconomySettings::off(), &track(105.0, before), soon));
        assert_eq!(e.rescan_every(&s, 10), s.steady_rescan_every);
        e.settled = false;
        assert_eq!(e.rescan_every(&s, 10), 10);
    }
}
