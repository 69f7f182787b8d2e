//! The History tab: the diary's days at a glance (egui_plot), mood by hour, what helped, the
//! sessions (each opening its timeline again), and what is stored where, with a way to
//! delete it. The figures come from the diary's writer thread; nothing here touches the file.

use egui::RichText;
use egui_plot::{Bar, BarChart, Legend, Plot};

use super::timeline::Timeline;
use super::{ERROR_COLOR, emotion_color};
use crate::diary::{DiaryEvent, Forget, MoodSeconds, Summary};
use crate::emotion::{Emotion, EmotionScores};

/// What the tab asks of the diary.
#[derive(Debug, Clone, PartialEq)]
pub enum HistoryCmd {
    /// The summary of the last N days.
    Ask(u32),
    OpenSession(i64),
    Forget(Forget),
}

/// Whether history is kept, and where; or why not.
pub(crate) struct DiaryStatus {
    pub(crate) path: Option<std::path::PathBuf>,
    pub(crate) off: Option<String>,
}

pub(crate) struct HistoryView {
    days: u32,
    summary: Option<Summary>,
    error: Option<String>,
    waiting: bool,
    /// An opened session and its timeline.
    session: Option<(i64, Timeline)>,
    confirm_forget: bool,
}

impl Default for HistoryView {
    fn default() -> Self {
        HistoryView {
            days: 30,
            summary: None,
            error: None,
            waiting: false,
            session: None,
            confirm_forget: false,
        }
    }
}

const SPANS: [u32; 3] = [7, 30, 90];

impl HistoryView {
    /// The tab was opened: fresh figures.
    pub(crate) fn opened(&mut self) -> HistoryCmd {
        self.waiting = true;
        HistoryCmd::Ask(self.days)
    }

    /// A diary answer; returns a follow-up question if one is due.
    pub(crate) fn on_event(&mut self, ev: DiaryEvent) -> Option<HistoryCmd> {
        match ev {
            DiaryEvent::Summary(s) => {
                self.waiting = false;
                match *s {
                    Ok(s) => {
                        self.summary = Some(s);
                        self.error = None;
                    }
                    Err(e) => self.error = Some(e.to_string()),
                }
                None
            }
            DiaryEvent::Timeline(id, Ok(points)) => {
                let mut tl = Timeline::default();
                let t0 = points.first().map_or(0, |p| p.t);
                for p in points {
                    let t = (p.t - t0) as f64 / 1000.0;
                    tl.push(t, EmotionScores(p.probs), p.mood);
                }
                self.session = Some((id, tl));
                None
            }
            DiaryEvent::Timeline(_, Err(e)) => {
                self.error = Some(e.to_string());
                None
            }
            DiaryEvent::Forgotten(r) => {
                if let Err(e) = r {
                    self.error = Some(e.to_string());
                }
                self.session = None;
                Some(self.opened())
            }
            DiaryEvent::Off(e) => {
                self.error = Some(e.to_string());
                None
            }
        }
    }

    pub(crate) fn show(&mut self, ui: &mut egui::Ui, status: &DiaryStatus) -> Vec<HistoryCmd> {
        let mut cmds = Vec::new();
        egui::ScrollArea::vertical().show(ui, |ui| {
            self.header(ui, status, &mut cmds);
            if let Some(e) = &self.error {
                ui.colored_label(ERROR_COLOR, e);
            }
            let Some(s) = &self.summary else {
                if self.waiting {
                    ui.spinner();
                }
                return;
            };
            if s.seconds.total() == 0 {
                ui.label(
                    "Nothing recorded in these days yet: the diary fills while a face is in view.",
                );
            } else {
                per_day(ui, s);
                by_hour(ui, s);
                helped(ui, s);
            }
            self.sessions(ui, &mut cmds);
        });
        cmds
    }

    fn header(&mut self, ui: &mut egui::Ui, status: &DiaryStatus, cmds: &mut Vec<HistoryCmd>) {
        ui.horizontal(|ui| {
            ui.label(RichText::new("History").strong());
            for d in SPANS {
                if ui
                    .selectable_label(self.days == d, format!("{d} days"))
                    .clicked()
                {
                    self.days = d;
                    cmds.push(self.opened());
                }
            }
            if ui.button("Refresh").clicked() {
                cmds.push(self.opened());
            }
        });
        match (&status.path, &status.off) {
            (_, Some(why)) => {
                ui.colored_label(ERROR_COLOR, format!("History is off: {why}"));
            }
            (Some(p), None) => {
                ui.horizontal_wrapped(|ui| {
                    ui.label(format!(
                        "Kept on this computer only, in {}: mood scores once a second, mood \
                         changes, the music shown and opened, corrections. Never pictures.",
                        p.display()
                    ));
                    if self.confirm_forget {
                        ui.label("Delete all history?");
                        if ui.button("Yes, delete").clicked() {
                            cmds.push(HistoryCmd::Forget(Forget::All));
                            self.confirm_forget = false;
                        }
                        if ui.button("Keep").clicked() {
                            self.confirm_forget = false;
                        }
                    } else if ui.button("Forget all…").clicked() {
                        self.confirm_forget = true;
                    }
                });
            }
            (None, None) => {
                ui.label("History is off (Settings → History keeps it on this computer).");
            }
        }
    }

    fn sessions(&mut self, ui: &mut egui::Ui, cmds: &mut Vec<HistoryCmd>) {
        let Some(s) = &self.summary else { return };
        ui.separator();
        ui.label(RichText::new(format!("Sessions ({})", s.sessions.len())).strong());
        let mut closed = false;
        for r in s.sessions.iter().take(50) {
            ui.horizontal(|ui| {
                let who = r
                    .profile
                    .as_deref()
                    .map(|p| format!(" · {p}"))
                    .unwrap_or_default();
                ui.label(format!(
                    "{}  {}  {}{who}",
                    crate::diary::local_time(r.started, "%a %Y-%m-%d %H:%M"),
                    minutes(r.samples),
                    r.source
                ));
                let open = self.session.as_ref().is_some_and(|(id, _)| *id == r.id);
                if open && ui.small_button("Close").clicked() {
                    closed = true;
                } else if !open && ui.small_button("Open").clicked() {
                    cmds.push(HistoryCmd::OpenSession(r.id));
                }
                if ui.small_button("Forget").clicked() {
                    cmds.push(HistoryCmd::Forget(Forget::Session(r.id)));
                }
            });
            if let Some((id, tl)) = &self.session
                && *id == r.id
            {
                ui.label(format!("Session {id}, its mood second by second:"));
                tl.show(ui);
            }
        }
        if closed {
            self.session = None;
        }
    }
}

fn minutes(seconds: i64) -> String {
    let m = seconds.max(0) / 60;
    if m == 0 {
        format!("{} s", seconds.max(0))
    } else if m >= 60 {
        format!("{} h {:02} min", m / 60, m % 60)
    } else {
        format!("{m} min")
    }
}

/// One stacked bar per x: each mood's share of that x's seconds.
fn stacked(ui: &mut egui::Ui, id: &str, xs: &[(f64, MoodSeconds)], labels: Vec<String>) {
    let mut charts: Vec<BarChart> = Vec::new();
    for e in Emotion::ALL {
        let bars = xs
            .iter()
            .map(|(x, s)| {
                let share = s.0[e.index()] as f64 / s.total().max(1) as f64;
                Bar::new(*x, share)
                    .width(0.8)
                    .fill(emotion_color(e).gamma_multiply(0.8))
            })
            .collect();
        let refs: Vec<&BarChart> = charts.iter().collect();
        let chart = BarChart::new(e.name(), bars)
            .color(emotion_color(e))
            .stack_on(&refs);
        charts.push(chart);
    }
    Plot::new(id)
        .height(170.0)
        .include_y(0.0)
        .include_y(1.0)
        .allow_scroll(false)
        .allow_drag(false)
        .allow_zoom(false)
        .legend(Legend::default())
        .x_axis_formatter(move |m, _| {
            let i = m.value.round();
            if (m.value - i).abs() > 1e-6 || i < 0.0 {
                return String::new();
            }
            labels.get(i as usize).cloned().unwrap_or_default()
        })
        .show(ui, |p| {
            for c in charts {
                p.bar_chart(c);
            }
        });
}

fn per_day(ui: &mut egui::Ui, s: &Summary) {
    ui.label(RichText::new("Mood per day (share of the time with a face)").strong());
    let xs: Vec<(f64, MoodSeconds)> = s
        .per_day
        .iter()
        .enumerate()
        .map(|(i, d)| (i as f64, d.seconds))
        .collect();
    let labels = s
        .per_day
        .iter()
        .map(|d| d.day.get(5..).unwrap_or(&d.day).to_string())
        .collect();
    stacked(ui, "history-days", &xs, labels);
}

fn by_hour(ui: &mut egui::Ui, s: &Summary) {
    ui.label(RichText::new("Mood by hour of day").strong());
    let xs: Vec<(f64, MoodSeconds)> = s
        .by_hour
        .iter()
        .map(|h| (f64::from(h.hour), h.seconds))
        .collect();
    stacked(
        ui,
        "history-hours",
        &xs,
        (0..24).map(|h| format!("{h}h")).collect(),
    );
    let lit: Vec<_> = s
        .by_hour
        .iter()
        .filter_map(|h| Some((h.hour, h.valence?)))
        .collect();
    let best = lit.iter().max_by(|a, b| a.1.total_cmp(&b.1));
    let worst = lit.iter().min_by(|a, b| a.1.total_cmp(&b.1));
    if let (Some(b), Some(w)) = (best, worst)
        && b.0 != w.0
    {
        ui.label(format!(
            "Brightest around {}h (valence {:+.2}), lowest around {}h ({:+.2}). Valence: happy \
             and surprise count positive; angry, disgust, fear and sad negative.",
            b.0, b.1, w.0, w.1
        ));
    }
}

fn helped(ui: &mut egui::Ui, s: &Summary) {
    ui.label(RichText::new("What helped").strong());
    let h = &s.helped;
    match (h.valence_before, h.valence_after) {
        (Some(b), Some(a)) => {
            let verdict = if a > b + 0.05 {
                "mood rose"
            } else if a < b - 0.05 {
                "mood fell"
            } else {
                "little change"
            };
            ui.label(format!(
                "Uplift lists: {} shown; valence {b:+.2} in the 2 minutes before, {a:+.2} 8–12 \
                 minutes after ({} with a face both times): {verdict}.",
                h.uplift_lists, h.measured
            ));
        }
        _ => {
            ui.label(format!(
                "Uplift lists: {} shown, none with a face both before and about 10 minutes after.",
                h.uplift_lists
            ));
        }
    }
    for t in &h.tracks {
        ui.label(format!(
            "Mood rose after \"{}\" ({}) {}×",
            t.title, t.artists, t.times
        ));
    }
}
