//! The font of the PNG figures: a DejaVu Sans subset (ASCII, Latin-1, Greek, a few symbols)
//! embedded in the binary and registered with plotters' ab_glyph text renderer as
//! `sans-serif`, the family every figure names. `assets/fonts/make-subset.sh` made it;
//! `assets/fonts/LICENSE-DejaVu.txt` is its licence.

use std::sync::OnceLock;

use plotters::style::FontStyle;

use crate::error::{Error, Result};

/// The embedded TTF.
static DEJAVU_SANS_SUBSET: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-subset.ttf");

/// Register the embedded font (once per process; later calls return the first outcome).
pub(super) fn ensure_registered() -> Result<()> {
    static REGISTERED: OnceLock<std::result::Result<(), String>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            plotters::style::register_font("sans-serif", FontStyle::Normal, DEJAVU_SANS_SUBSET)
                .map_err(|_| "the embedded DejaVu Sans subset is not a valid font".to_string())
        })
        .clone()
        .map_err(|problem| Error::invalid("font", problem))
}
