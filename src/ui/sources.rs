//! The source chooser: shown when there is no camera (or no source yet).

use std::path::PathBuf;

use crate::capture::SourceSpec;

#[derive(Default)]
pub struct SourceChooser {
    pub path: String,
}

impl SourceChooser {
    /// `cameras`: names of the cameras found. Returns the source the user picked.
    pub fn show(&mut self, ui: &mut egui::Ui, cameras: &[String]) -> Option<SourceSpec> {
        let mut picked = None;
        ui.heading(if cameras.is_empty() {
            "No camera found"
        } else {
            "Choose a source"
        });
        if cameras.is_empty() {
            ui.label(
                "Connect a webcam and restart, or analyse a photo or a folder of photos instead.",
            );
        }
        ui.label("Open an image (analysed once) or a folder of images (replayed as video), or drop a photo on the window.");
        ui.horizontal(|ui| {
            let label = ui.label("Image or folder:");
            let edit = ui
                .text_edit_singleline(&mut self.path)
                .labelled_by(label.id);
            let enter = edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            if (ui.button("Open").clicked() || enter) && !self.path.trim().is_empty() {
                picked = Some(SourceSpec::Path(PathBuf::from(self.path.trim())));
            }
        });
        for (i, name) in cameras.iter().enumerate() {
            if ui.button(format!("Camera {i}: {name}")).clicked() {
                picked = Some(SourceSpec::Camera(i as u32));
            }
        }
        picked
    }
}
