//! Progress bars on stderr (hidden when asked or when stderr is not a terminal).

use indicatif::{ProgressBar, ProgressStyle};

/// A bar over `total` units named `unit`; hidden when `quiet`.
pub fn bar(total: u64, unit: &str, quiet: bool) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    let template = format!("{{elapsed_precise}} [{{bar:40}}] {{human_pos}}/{{human_len}} {unit} ({{per_sec}}, eta {{eta}})");
    if let Ok(style) = ProgressStyle::with_template(&template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}
