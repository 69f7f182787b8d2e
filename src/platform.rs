//! Facts about the machine the app runs on, read from the environment. A leaf: it imports
//! nothing from the crate, so any module may ask it.

/// True when a window can be opened at all (X11 or Wayland session present).
pub(crate) fn display_available() -> bool {
    if !cfg!(target_os = "linux") {
        return true;
    }
    ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()))
}
