//! Progress bars on a terminal only; nothing when output is redirected.

use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;

pub fn bar(len: u64, unit: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(len);
    let template = format!("{{spinner}} [{{elapsed_precise}}] {{bar:40}} {{pos}}/{{len}} {unit} {{msg}}");
    if let Ok(style) = ProgressStyle::with_template(&template) {
        pb.set_style(style);
    }
    // Redrawn by indicatif's own ticker, so the bar shows within a second
    // even while a large cluster is loaded and built (outside the simulation:
    // it never touches a run's state).
    pb.enable_steady_tick(std::time::Duration::from_millis(250));
    pb
}
