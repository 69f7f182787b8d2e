//! What the window tells the mood diary (sessions, a sample a second, music, corrections) and
//! the History tab's questions. All of it only queues entries for the diary's writer thread.

use super::*;
use crate::diary::{Play, Shown};
use crate::ui::history::HistoryCmd;
use crate::ui::profile::ProfileCmd;

impl EmotuneApp {
    /// A source opened: a new diary session, named by its kind only (camera, image, folder);
    /// paths and camera names stay out of the diary.
    pub(super) fn record_session(&mut self, source_name: &str) {
        let kind = source_name.split_whitespace().next().unwrap_or("source");
        let profile = Some(self.profile.profile.name.clone()).filter(|n| !n.is_empty());
        self.handles.diary.start(kind, profile);
    }

    pub(super) fn record_frame(&mut self, r: &FrameResult) {
        let main = r.main_face().map(|f| f.scores.0);
        let t = crate::clock::unix_now().as_millis() as i64;
        self.handles.diary.frame(t, main, r.mood.stable);
    }

    pub(super) fn record_shown(&self, rec: &crate::music::Recommendation) {
        self.handles.diary.shown(Shown {
            emotion: rec.emotion.to_string(),
            strategy: rec.strategy.name().to_string(),
            source: format!("{:?}", rec.source).to_lowercase(),
            playlist: rec.playlist.name.clone(),
            url: rec.playlist.url.clone().unwrap_or_default(),
            tracks: rec
                .tracks
                .iter()
                .map(|t| (t.title.clone(), t.artists.join(", "), t.uri.clone()))
                .collect(),
        });
    }

    pub(super) fn record_play(&self, action: &str, title: &str, artists: &str, uri: &str) {
        self.handles.diary.play(Play {
            action: action.into(),
            title: title.into(),
            artists: artists.into(),
            uri: uri.into(),
        });
    }

    /// "That's not it": what the main face showed, and what the person says it was.
    pub(super) fn record_correction(&self, c: ProfileCmd) {
        let ProfileCmd::Correct(meant) = c else {
            return;
        };
        if let Some(face) = self.rt.last.as_ref().and_then(|r| r.main_face()) {
            self.handles.diary.correction(face.emotion().0, meant);
        }
    }

    pub(super) fn on_history(&mut self, c: HistoryCmd) {
        let d = &self.handles.diary;
        match c {
            HistoryCmd::Ask(days) => d.ask_summary(days),
            HistoryCmd::OpenSession(id) => d.ask_timeline(id),
            HistoryCmd::Forget(what) => d.forget(what),
        }
    }

    /// What the History tab says about where history is kept, or why it is off.
    pub(super) fn diary_status(&self) -> crate::ui::history::DiaryStatus {
        let d = &self.handles.diary;
        crate::ui::history::DiaryStatus {
            path: d.on().then(|| d.path()).flatten().map(Into::into),
            off: d.off_reason().map(ToString::to_string),
        }
    }
}
