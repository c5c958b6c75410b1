//! Figures a reader looks at, as PNG and SVG: metric vs human rating with Kendall τ, the
//! metrics per DAL iteration, recall@k for several retrieval settings, the λ curve of a fit.
//!
//! Each kind is a public function taking plain data (so a library user can draw from numbers
//! they hold) plus a reader for the file the matching `recap` command writes:
//!
//! | figure | function | data | file it reads |
//! |---|---|---|---|
//! | metric vs human rating, one panel per metric, τ in the title | [`scatter`] | [`ScatterPanel`] | `recap correlate --items-out` ([`read_correlation_items`]) |
//! | corpus metrics per DAL iteration, one line per metric | [`dal_metrics`] | [`DalMetrics`] | `dal.json` of `recap dal --references` or its `--json` ([`read_dal_metrics`]) |
//! | recall@k, one line per setting, image→text and text→image panels | [`recall_at_k`] | [`RecallSeries`] | `recap eval-retrieval --json` / `--out` ([`read_retrieval_report`]) |
//! | λ-selection criterion vs λ (log axis), the chosen λ marked | [`lambda_curve`] | [`LambdaSelection`](crate::align::LambdaSelection) | `recap fit --report` / `--json` or `W.json` ([`read_lambda_selection`]) |
//!
//! Every figure is drawn twice with [plotters](https://docs.rs/plotters): into an SVG string
//! (text as `<text>` in `sans-serif`, series as `<polyline>`, the viewer's font) and into an
//! RGB bitmap encoded as PNG, its text rasterized with the DejaVu Sans subset embedded from
//! `assets/fonts/` (no system font is needed). Both are drawn in memory first, then written
//! atomically (temporary file, rename) to `PREFIX.png` and `PREFIX.svg`: an error leaves no
//! file, or the old ones. The same data give byte-identical files.
//!
//! Bad input is an error, never a panic: an empty series ([`Error::InvalidArgument`]),
//! NaN or ±Inf values ([`Error::NonFinite`], naming the series and the point), series of
//! different lengths ([`Error::Shape`]), λ ≤ 0 on the log axis, a missing or malformed file
//! ([`Error::Io`], [`Error::Format`], [`Error::Json`]).
//!
//! ```no_run
//! use recap::plot::{recall_at_k, read_retrieval_report};
//! let raw = read_retrieval_report("raw.json", "raw CLIP")?;
//! let aligned = read_retrieval_report("aligned.json", "through W")?;
//! let written = recall_at_k(&[raw, aligned], "figs/recall")?;
//! println!("{} {}", written.png.display(), written.svg.display());
//! # Ok::<(), recap::Error>(())
//! ```

mod correlation;
mod dal;
mod font;
mod lambda;
mod recall;

use std::ffi::OsString;
use std::ops::Range;
use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::io::atomic::write_bytes_atomic;

pub use correlation::{read_correlation_items, scatter, ScatterPanel};
pub use dal::{dal_metrics, read_dal_metrics, DalMetrics};
pub use lambda::{lambda_curve, read_lambda_selection};
pub use recall::{read_retrieval_report, recall_at_k, RecallSeries};

/// The two files a figure was written to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Written {
    /// `PREFIX.png`.
    pub png: PathBuf,
    /// `PREFIX.svg`.
    pub svg: PathBuf,
}

/// `PREFIX.png` and `PREFIX.svg` (the extension is appended, not substituted: `figs/run.1`
/// gives `figs/run.1.png`).
pub fn output_paths(prefix: impl AsRef<Path>) -> Written {
    let with = |ext: &str| {
        let mut s = OsString::from(prefix.as_ref().as_os_str());
        s.push(ext);
        PathBuf::from(s)
    };
    Written {
        png: with(".png"),
        svg: with(".svg"),
    }
}

/// The result type of drawing on a backend.
type Drawn<DB> = std::result::Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

/// A figure that can draw itself on any plotters backend (SVG string or RGB bitmap).
trait Figure {
    /// Width and height in pixels.
    fn size(&self) -> (u32, u32);
    /// Draw on the whole area (already filled white).
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn<DB>;
}

/// Draw `fig` as SVG and PNG in memory, then write both atomically.
fn write_figure(fig: &impl Figure, prefix: &Path) -> Result<Written> {
    let out = output_paths(prefix);
    if prefix.file_name().is_none() {
        return Err(Error::invalid(
            "out",
            format!("{:?} is not a file prefix", prefix.display().to_string()),
        ));
    }
    let dir = match prefix.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        return Err(Error::io(
            &out.png,
            std::io::Error::new(std::io::ErrorKind::NotFound, "output folder does not exist"),
        ));
    }
    font::ensure_registered()?;
    let (w, h) = fig.size();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (w, h)).into_drawing_area();
        draw_on(fig, &root).map_err(|e| drawing_error(&out.svg, e))?;
    }
    let mut rgb = vec![255u8; w as usize * h as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
        draw_on(fig, &root).map_err(|e| drawing_error(&out.png, e))?;
    }
    let png = encode_png(&rgb, w, h).map_err(|e| drawing_error(&out.png, e))?;
    write_bytes_atomic(&out.png, &png)?;
    write_bytes_atomic(&out.svg, svg.as_bytes())?;
    Ok(out)
}

fn draw_on<DB: DrawingBackend>(fig: &impl Figure, root: &DrawingArea<DB, Shift>) -> Drawn<DB> {
    root.fill(&WHITE)?;
    fig.draw(root)?;
    root.present()
}

fn drawing_error(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::io(
        path,
        std::io::Error::other(format!("drawing the figure failed: {e}")),
    )
}

/// 8-bit RGB PNG of a `w x h` buffer (deterministic: fixed compression, no time chunk).
fn encode_png(rgb: &[u8], w: u32, h: u32) -> std::result::Result<Vec<u8>, png::EncodingError> {
    let mut bytes = Vec::new();
    let mut enc = png::Encoder::new(&mut bytes, w, h);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    let mut writer = enc.write_header()?;
    writer.write_image_data(rgb)?;
    writer.finish()?;
    Ok(bytes)
}

/// Okabe–Ito colours (distinguishable with the common colour-vision deficiencies), then
/// plotters' 99-colour palette.
fn color(i: usize) -> RGBColor {
    const OKABE_ITO: [RGBColor; 7] = [
        RGBColor(0, 114, 178),
        RGBColor(213, 94, 0),
        RGBColor(0, 158, 115),
        RGBColor(204, 121, 167),
        RGBColor(230, 159, 0),
        RGBColor(86, 180, 233),
        RGBColor(0, 0, 0),
    ];
    match OKABE_ITO.get(i) {
        Some(&c) => c,
        None => {
            let (r, g, b) = Palette99::COLORS[(i - OKABE_ITO.len()) % Palette99::COLORS.len()];
            RGBColor(r, g, b)
        }
    }
}

/// `[min, max]` of finite values padded by 5 % (a single value: ± 0.5, or ± 5 % of it).
fn padded_range(values: impl IntoIterator<Item = f64>) -> Range<f64> {
    let (lo, hi) = values
        .into_iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if !lo.is_finite() || !hi.is_finite() {
        return 0.0..1.0;
    }
    let span = hi - lo;
    let pad = if span > 0.0 {
        0.05 * span
    } else if lo != 0.0 {
        0.05 * lo.abs()
    } else {
        0.5
    };
    (lo - pad)..(hi + pad)
}

/// Decimals that tell ticks apart on an axis spanning `range` (about ten ticks): 0 for a
/// span of 10 or more, one more per decade below, at most 8.
fn tick_decimals(range: &Range<f64>) -> usize {
    let span = (range.end - range.start).abs();
    if !(span.is_finite() && span > 0.0) {
        return 2;
    }
    (1.0 - span.log10()).ceil().clamp(0.0, 8.0) as usize
}

/// An empty series is an error naming it.
fn check_nonempty(what: &str, n: usize) -> Result<()> {
    if n == 0 {
        return Err(Error::invalid(what, "no values to plot"));
    }
    Ok(())
}

/// NaN / ±Inf is an error naming the series and the point.
fn check_finite(what: &str, values: &[f64]) -> Result<()> {
    match values.iter().position(|v| !v.is_finite()) {
        Some(row) => Err(Error::NonFinite {
            what: what.to_string(),
            row,
            col: 0,
        }),
        None => Ok(()),
    }
}

/// Two series that must pair up point for point.
fn check_same_len(what: &str, expected: usize, got: usize) -> Result<()> {
    if expected != got {
        return Err(Error::shape(
            what,
            format!("{expected} values"),
            format!("{got} values"),
        ));
    }
    Ok(())
}

/// A JSON file, its errors naming it.
fn read_json(path: &Path) -> Result<serde_json::Value> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    serde_json::from_slice(&bytes).map_err(|e| Error::Json {
        path: path.to_path_buf(),
        source: e,
    })
}

/// A JSON number as f64; `null` (how serde_json writes NaN and ±Inf) gives NaN so the
/// figure's checks name the point.
fn json_f64(v: &serde_json::Value) -> Option<f64> {
    match v {
        serde_json::Value::Null => Some(f64::NAN),
        v => v.as_f64(),
    }
}
