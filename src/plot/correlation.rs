//! Metric vs human rating: one scatter panel per metric, Kendall τ in each panel's title.
//!
//! `recap correlate --items-out FILE` writes one record per scored judgment, in the
//! protocol's order: `{"key", "candidate", "rating", "scores": {metric: value}}` (the
//! `scores` of every metric computed). [`read_correlation_items`] turns that file into one
//! [`ScatterPanel`] per metric; [`scatter`] computes τ with the variant given (clipscore's
//! protocol: τ-c for Flickr8k-Expert, τ-b for CrowdFlower) exactly as `recap correlate` does.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{
    check_finite, check_nonempty, check_same_len, color, json_f64, padded_range, read_json,
    tick_decimals, write_figure, Drawn, Figure, Written,
};
use crate::error::{Error, Result};
use crate::metrics::correlation::{kendall_tau, TauVariant};

/// One metric's per-item scores and the human rating of the same items.
#[derive(Clone, Debug, PartialEq)]
pub struct ScatterPanel {
    /// The metric's name (the panel title and y axis).
    pub metric: String,
    /// The metric's value per item (y).
    pub scores: Vec<f64>,
    /// The human rating per item (x).
    pub human: Vec<f64>,
}

/// Draw metric vs human rating, one panel per metric (three per row), each titled with its
/// Kendall τ (`variant`), to `PREFIX.png` and `PREFIX.svg`.
///
/// Errors: no panels, a panel with no items, NaN/±Inf scores or ratings, `scores` and
/// `human` of different lengths.
pub fn scatter(
    panels: &[ScatterPanel],
    variant: TauVariant,
    prefix: impl AsRef<Path>,
) -> Result<Written> {
    check_nonempty("correlation panels", panels.len())?;
    let mut drawn = Vec::with_capacity(panels.len());
    for p in panels {
        check_nonempty(&format!("{} scores", p.metric), p.scores.len())?;
        check_same_len(
            &format!("{} scores vs human ratings", p.metric),
            p.human.len(),
            p.scores.len(),
        )?;
        check_finite(&format!("{} scores", p.metric), &p.scores)?;
        check_finite(&format!("{} human ratings", p.metric), &p.human)?;
        let tau = kendall_tau(&p.scores, &p.human, variant)?;
        drawn.push((p.clone(), tau));
    }
    let fig = ScatterFigure {
        panels: drawn,
        variant,
    };
    write_figure(&fig, prefix.as_ref())
}

/// One [`ScatterPanel`] per metric from the items file of `recap correlate --items-out`
/// (metrics in the order of the first item's `scores`).
///
/// Errors: the file cannot be read or is not a JSON list of items; an item without a numeric
/// `rating`; no `scores` (a file from `--items-out` of a run that computed no metric); an
/// item missing a metric the first one has.
pub fn read_correlation_items(path: impl AsRef<Path>) -> Result<Vec<ScatterPanel>> {
    let path = path.as_ref();
    let value = read_json(path)?;
    let items = value.as_array().ok_or_else(|| {
        Error::format(
            path,
            "expected the JSON list of recap correlate --items-out",
        )
    })?;
    let Some(first) = items.first() else {
        return Err(Error::format(path, "no items"));
    };
    let names: Vec<String> = match first.get("scores").and_then(|s| s.as_object()) {
        Some(s) if !s.is_empty() => s.keys().cloned().collect(),
        _ => {
            return Err(Error::format(
                path,
                "item 0 has no \"scores\": write the file with recap correlate --items-out \
                 (it adds every computed metric's per-item score)",
            ))
        }
    };
    let mut panels: Vec<ScatterPanel> = names
        .into_iter()
        .map(|metric| ScatterPanel {
            metric,
            scores: Vec::with_capacity(items.len()),
            human: Vec::with_capacity(items.len()),
        })
        .collect();
    for (i, item) in items.iter().enumerate() {
        let rating = item
            .get("rating")
            .and_then(json_f64)
            .ok_or_else(|| Error::format(path, format!("item {i}: no numeric \"rating\"")))?;
        for p in &mut panels {
            let v = item
                .get("scores")
                .and_then(|s| s.get(&p.metric))
                .and_then(json_f64)
                .ok_or_else(|| {
                    Error::format(path, format!("item {i}: no score for {}", p.metric))
                })?;
            p.scores.push(v);
            p.human.push(rating);
        }
    }
    Ok(panels)
}

struct ScatterFigure {
    panels: Vec<(ScatterPanel, f64)>,
    variant: TauVariant,
}

impl ScatterFigure {
    fn grid(&self) -> (usize, usize) {
        let cols = self.panels.len().min(3);
        (self.panels.len().div_ceil(cols), cols)
    }
}

impl Figure for ScatterFigure {
    fn size(&self) -> (u32, u32) {
        let (rows, cols) = self.grid();
        (cols as u32 * 400, 50 + rows as u32 * 360)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn<DB> {
        let (top, body) = root.split_vertically(50);
        let v = match self.variant {
            TauVariant::B => "b",
            TauVariant::C => "c",
        };
        top.titled(
            &format!(
                "metric vs human rating ({} items, Kendall τ-{v})",
                self.panels[0].0.scores.len()
            ),
            ("sans-serif", 22),
        )?;
        let areas = body.split_evenly(self.grid());
        for (i, ((p, tau), area)) in self.panels.iter().zip(areas.iter()).enumerate() {
            let title = if tau.is_nan() {
                format!("{}: τ-{v} undefined (constant)", p.metric)
            } else {
                format!("{}: τ-{v} = {tau:.4}", p.metric)
            };
            let (x, y) = (
                padded_range(p.human.iter().copied()),
                padded_range(p.scores.iter().copied()),
            );
            let (dx, dy) = (tick_decimals(&x), tick_decimals(&y));
            let mut chart = ChartBuilder::on(area)
                .caption(title, ("sans-serif", 16))
                .margin(10)
                .x_label_area_size(40)
                .y_label_area_size(56)
                .build_cartesian_2d(x, y)?;
            chart
                .configure_mesh()
                .x_desc("human rating")
                .y_desc(p.metric.as_str())
                .x_label_formatter(&|v| format!("{v:.dx$}"))
                .y_label_formatter(&|v| format!("{v:.dy$}"))
                .draw()?;
            let c = color(i);
            chart.draw_series(
                p.human
                    .iter()
                    .zip(&p.scores)
                    .map(|(&x, &y)| Circle::new((x, y), 3, c.mix(0.35).filled())),
            )?;
        }
        Ok(())
    }
}
