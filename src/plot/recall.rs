//! recall@k of several retrieval settings (raw CLIP space, through a fitted map, ...): two
//! panels, image→text and text→image, one line per setting, x = k.
//!
//! `recap eval-retrieval` evaluates one setting per run (with or without `--map`); its JSON
//! (`--json` on stdout, or `--out FILE`) is read by [`read_retrieval_report`] with a label,
//! and [`recall_at_k`] draws any number of them together.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{
    check_finite, check_nonempty, check_same_len, color, json_f64, read_json, write_figure, Drawn,
    Figure, Written,
};
use crate::error::{Error, Result};
use crate::retrieve::RetrievalReport;

/// One retrieval setting: `(k, recall@k)` per direction, recall as a fraction in `[0, 1]`.
#[derive(Clone, Debug, PartialEq)]
pub struct RecallSeries {
    /// The setting's name in the legend (e.g. "raw CLIP", "ridge W").
    pub label: String,
    /// Images query captions.
    pub image_to_text: Vec<(usize, f64)>,
    /// Captions query images.
    pub text_to_image: Vec<(usize, f64)>,
}

impl RecallSeries {
    /// The recall@k of a report the library computed ([`crate::retrieve::evaluate`]).
    pub fn from_report(label: impl Into<String>, report: &RetrievalReport) -> Self {
        RecallSeries {
            label: label.into(),
            image_to_text: report.image_to_text.recall.clone(),
            text_to_image: report.text_to_image.recall.clone(),
        }
    }
}

/// Draw recall@k, one line per series, image→text and text→image side by side, to
/// `PREFIX.png` and `PREFIX.svg`.
///
/// Errors: no series, a series with no points, k = 0, a recall that is NaN/±Inf or outside
/// `[0, 1]`, series whose k values differ (they are compared at the same k).
pub fn recall_at_k(series: &[RecallSeries], prefix: impl AsRef<Path>) -> Result<Written> {
    check_nonempty("recall series", series.len())?;
    for s in series {
        for (dir, points) in [
            ("image_to_text", &s.image_to_text),
            ("text_to_image", &s.text_to_image),
        ] {
            let what = format!("{} {dir} recall", s.label);
            check_nonempty(&what, points.len())?;
            let values: Vec<f64> = points.iter().map(|p| p.1).collect();
            check_finite(&what, &values)?;
            if let Some((k, r)) = points.iter().find(|(_, r)| !(0.0..=1.0).contains(r)) {
                return Err(Error::invalid(
                    what,
                    format!("recall@{k} = {r} is not a fraction in [0, 1]"),
                ));
            }
            if points.iter().any(|(k, _)| *k == 0) {
                return Err(Error::invalid(what, "k = 0"));
            }
            let first = match dir {
                "image_to_text" => &series[0].image_to_text,
                _ => &series[0].text_to_image,
            };
            check_same_len(&what, first.len(), points.len())?;
            let ks = |p: &[(usize, f64)]| p.iter().map(|q| q.0).collect::<Vec<_>>();
            if ks(first) != ks(points) {
                return Err(Error::shape(
                    format!("{what}: k values (as in {})", series[0].label),
                    format!("{:?}", ks(first)),
                    format!("{:?}", ks(points)),
                ));
            }
        }
    }
    write_figure(
        &RecallFigure {
            series: series.to_vec(),
        },
        prefix.as_ref(),
    )
}

/// The recall@k of one `recap eval-retrieval --json` report, named `label`.
///
/// Errors: the file cannot be read or is not JSON; a direction or its `recall` list is
/// missing or not `[[k, recall], ...]`.
pub fn read_retrieval_report(
    path: impl AsRef<Path>,
    label: impl Into<String>,
) -> Result<RecallSeries> {
    let path = path.as_ref();
    let value = read_json(path)?;
    let direction = |name: &str| -> Result<Vec<(usize, f64)>> {
        let bad = || {
            Error::format(
                path,
                format!("{name}.recall is not a list of [k, recall] pairs (expected the JSON of recap eval-retrieval)"),
            )
        };
        value[name]["recall"]
            .as_array()
            .ok_or_else(bad)?
            .iter()
            .map(|pair| {
                let k = pair[0].as_u64().ok_or_else(bad)? as usize;
                let r = json_f64(&pair[1]).ok_or_else(bad)?;
                Ok((k, r))
            })
            .collect()
    };
    Ok(RecallSeries {
        label: label.into(),
        image_to_text: direction("image_to_text")?,
        text_to_image: direction("text_to_image")?,
    })
}

struct RecallFigure {
    series: Vec<RecallSeries>,
}

impl Figure for RecallFigure {
    fn size(&self) -> (u32, u32) {
        (1000, 460)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn<DB> {
        let (top, body) = root.split_vertically(40);
        top.titled("recall@k", ("sans-serif", 22))?;
        let panels = body.split_evenly((1, 2));
        for (panel, (name, pick)) in panels
            .iter()
            .zip([("image → text", 0usize), ("text → image", 1usize)])
        {
            let points = |s: &RecallSeries| -> Vec<(f64, f64)> {
                let p = if pick == 0 {
                    &s.image_to_text
                } else {
                    &s.text_to_image
                };
                p.iter().map(|&(k, r)| (k as f64, r)).collect()
            };
            let k_max = self
                .series
                .iter()
                .flat_map(&points)
                .map(|p| p.0)
                .fold(1.0, f64::max);
            let mut chart = ChartBuilder::on(panel)
                .caption(name, ("sans-serif", 18))
                .margin(12)
                .x_label_area_size(40)
                .y_label_area_size(56)
                .build_cartesian_2d(0.0..k_max + 1.0, 0.0..1.0)?;
            chart
                .configure_mesh()
                .x_desc("k")
                .y_desc("recall@k")
                .x_label_formatter(&|v| format!("{v:.0}"))
                .y_label_formatter(&|v| format!("{v:.1}"))
                .draw()?;
            for (i, s) in self.series.iter().enumerate() {
                let c = color(i);
                let pts = points(s);
                chart
                    .draw_series(LineSeries::new(pts.iter().copied(), c.stroke_width(2)))?
                    .label(s.label.clone())
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c));
                chart.draw_series(pts.iter().map(|&p| Circle::new(p, 4, c.filled())))?;
            }
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperLeft)
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .label_font(("sans-serif", 14))
                .draw()?;
        }
        Ok(())
    }
}
