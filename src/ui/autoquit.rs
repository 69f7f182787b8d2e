//! `--screenshot OUT.png --quit-after SECS`: after SECS, save the window as a PNG and close it
//! (README screenshots, smoke tests under Xvfb).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

pub(crate) struct AutoQuit {
    after: f64,
    screenshot: Option<PathBuf>,
    started: Instant,
    sent: bool,
    done: Arc<AtomicBool>,
}

impl AutoQuit {
    /// None unless `quit_after` is given (a screenshot alone would never be taken).
    pub(crate) fn new(quit_after: Option<f64>, screenshot: Option<PathBuf>) -> Option<AutoQuit> {
        Some(AutoQuit {
            after: quit_after?,
            screenshot,
            started: Instant::now(),
            sent: false,
            done: Arc::new(AtomicBool::new(false)),
        })
    }

    /// Called every frame. Until the time is up it only asks to be woken then, so the window
    /// repaints as a user's would (what `scripts/window-soak.sh` measures); after that it keeps
    /// frames coming until the screenshot is saved and the window closed.
    pub(crate) fn tick(&mut self, ctx: &egui::Context) {
        let left = self.after - self.started.elapsed().as_secs_f64();
        if left > 0.0 {
            // Capped: a huge or infinite --quit-after must not overflow the deadline.
            ctx.request_repaint_after(Duration::from_secs_f64(left.min(3600.0)));
            return;
        }
        ctx.request_repaint();
        match &self.screenshot {
            Some(path) if !self.sent => {
                let (path, done) = (path.clone(), self.done.clone());
                ctx.send_viewport_cmd(egui::ViewportCommand::Screenshot(
                    egui::ScreenshotCallback::new(move |img| {
                        save(&img, &path);
                        done.store(true, Ordering::SeqCst);
                    }),
                ));
                self.sent = true;
            }
            Some(_) if !self.done.load(Ordering::SeqCst) => {}
            _ => ctx.send_viewport_cmd(egui::ViewportCommand::Close),
        }
    }
}

fn save(img: &egui::ColorImage, path: &std::path::Path) {
    let [w, h] = img.size;
    let bytes: Vec<u8> = img.pixels.iter().flat_map(|c| c.to_array()).collect();
    match image::RgbaImage::from_raw(w as u32, h as u32, bytes) {
        Some(buf) => match buf.save(path) {
            Ok(()) => eprintln!("screenshot written to {}", path.display()),
            Err(e) => eprintln!("error: cannot write {}: {e}", path.display()),
        },
        None => eprintln!("error: screenshot had an unexpected size"),
    }
}
