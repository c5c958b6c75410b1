//! The λ curve of a ridge fit: the selection criterion (GCV score, leave-one-out MSE or
//! k-fold held-out MSE; lower is better) against λ on a log axis, the chosen λ marked.
//!
//! The curve is [`LambdaSelection::curve`], which `recap fit --lambda-grid` records in the
//! fit report (`--report`, `--json`) and in `W.json`. A fixed λ or a method without λ
//! (OLS, least squares, Procrustes) records no curve: there is nothing to draw, and
//! [`read_lambda_selection`] says so. Points whose criterion is +∞ (GCV when the effective
//! degrees of freedom reach n; serde_json writes them as `null`) are left out of the line;
//! NaN is an error.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{
    check_nonempty, color, padded_range, read_json, tick_decimals, write_figure, Drawn, Figure,
    Written,
};
use crate::align::report::{LambdaPoint, LambdaSelection};
use crate::error::{Error, Result};

/// Draw the criterion against λ (log x axis), the chosen λ marked, to `PREFIX.png` and
/// `PREFIX.svg`.
///
/// Errors: an empty curve; λ ≤ 0, NaN or infinite (a log axis needs λ > 0); a NaN or −∞
/// score; every score +∞; a chosen λ that is not finite and positive.
pub fn lambda_curve(selection: &LambdaSelection, prefix: impl AsRef<Path>) -> Result<Written> {
    check_nonempty("lambda curve", selection.curve.len())?;
    for (i, p) in selection.curve.iter().enumerate() {
        if !(p.lambda.is_finite() && p.lambda > 0.0) {
            return Err(Error::invalid(
                "lambda",
                format!(
                    "point {i}: λ = {} cannot be drawn on a log axis (needs 0 < λ < ∞)",
                    p.lambda
                ),
            ));
        }
        if p.score.is_nan() || p.score == f64::NEG_INFINITY {
            return Err(Error::NonFinite {
                what: format!("{} score", selection.criterion),
                row: i,
                col: 0,
            });
        }
    }
    if !(selection.chosen.is_finite() && selection.chosen > 0.0) {
        return Err(Error::invalid(
            "chosen lambda",
            format!("{} is not a finite positive λ", selection.chosen),
        ));
    }
    let mut points: Vec<(f64, f64)> = selection
        .curve
        .iter()
        .filter(|p| p.score.is_finite())
        .map(|p| (p.lambda, p.score))
        .collect();
    if points.is_empty() {
        return Err(Error::invalid(
            "lambda curve",
            "every criterion value is infinite: nothing to draw",
        ));
    }
    points.sort_by(|a, b| a.0.total_cmp(&b.0));
    let chosen_score = selection
        .curve
        .iter()
        .find(|p| p.lambda == selection.chosen)
        .map(|p| p.score)
        .filter(|s| s.is_finite());
    let fig = LambdaFigure {
        criterion: selection.criterion.clone(),
        points,
        chosen: selection.chosen,
        chosen_score,
    };
    write_figure(&fig, prefix.as_ref())
}

/// The λ selection of a fit report: the JSON of `recap fit --report` / `--json`, or a
/// `W.json` sidecar (its `report`). `null` scores (+∞ written by serde_json) read as +∞.
///
/// Errors: the file cannot be read or is not JSON; the report records no selection (a fixed
/// λ or a method without one: fit with `--lambda-grid`); a malformed selection.
pub fn read_lambda_selection(path: impl AsRef<Path>) -> Result<LambdaSelection> {
    let path = path.as_ref();
    let value = read_json(path)?;
    let report = match value.get("report") {
        Some(r) if r.is_object() => r,
        _ => &value,
    };
    let bad = |what: &str| Error::format(path, what.to_string());
    if report.get("method").is_none() {
        return Err(bad(
            "not a fit report (no \"method\"): give the JSON of `recap fit --report` or a W.json",
        ));
    }
    let sel = match report.get("selection") {
        Some(s) if s.is_object() => s,
        _ => {
            return Err(bad(
                "the fit records no λ selection (a fixed λ, or a method without λ): fit ridge \
                 with --lambda-grid to record the λ curve",
            ))
        }
    };
    let criterion = sel["criterion"]
        .as_str()
        .ok_or_else(|| bad("selection.criterion is not a string"))?
        .to_string();
    let chosen = sel["chosen"]
        .as_f64()
        .ok_or_else(|| bad("selection.chosen is not a number"))?;
    let curve = sel["curve"]
        .as_array()
        .ok_or_else(|| bad("selection.curve is not an array"))?
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let lambda = p["lambda"]
                .as_f64()
                .ok_or_else(|| bad(&format!("selection.curve[{i}].lambda is not a number")))?;
            let score = match &p["score"] {
                serde_json::Value::Null => f64::INFINITY,
                v => v
                    .as_f64()
                    .ok_or_else(|| bad(&format!("selection.curve[{i}].score is not a number")))?,
            };
            Ok(LambdaPoint {
                lambda,
                score,
                df: p["df"].as_f64(),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(LambdaSelection {
        criterion,
        curve,
        chosen,
    })
}

/// The y-axis label of a criterion name as the fit report writes it.
fn criterion_label(criterion: &str) -> String {
    match criterion {
        "gcv" => "GCV score".to_string(),
        "loo" => "leave-one-out MSE".to_string(),
        c => match c.strip_prefix("kfold-") {
            Some(k) => format!("{k}-fold held-out MSE per pair"),
            None => c.to_string(),
        },
    }
}

struct LambdaFigure {
    criterion: String,
    /// Finite points, by increasing λ.
    points: Vec<(f64, f64)>,
    chosen: f64,
    chosen_score: Option<f64>,
}

impl Figure for LambdaFigure {
    fn size(&self) -> (u32, u32) {
        (720, 480)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn<DB> {
        let lo = self.points[0].0.min(self.chosen);
        let hi = self.points[self.points.len() - 1].0.max(self.chosen);
        let y = padded_range(self.points.iter().map(|p| p.1));
        let title = format!(
            "ridge λ selection by {} (chosen λ = {:e})",
            self.criterion, self.chosen
        );
        let dy = tick_decimals(&y);
        let mut chart = ChartBuilder::on(root)
            .caption(title, ("sans-serif", 20))
            .margin(14)
            .x_label_area_size(44)
            .y_label_area_size(78)
            .build_cartesian_2d((lo / 2.0..hi * 2.0).log_scale(), y.clone())?;
        chart
            .configure_mesh()
            .x_desc("λ (log scale)")
            .y_desc(criterion_label(&self.criterion))
            .x_label_formatter(&|v| format!("{v:e}"))
            .y_label_formatter(&|v| format!("{v:.dy$}"))
            .draw()?;
        let line = color(0);
        chart
            .draw_series(LineSeries::new(
                self.points.iter().copied(),
                line.stroke_width(2),
            ))?
            .label(criterion_label(&self.criterion))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], line));
        chart.draw_series(
            self.points
                .iter()
                .map(|&p| Circle::new(p, 3, line.filled())),
        )?;
        let mark = color(1);
        chart
            .draw_series(LineSeries::new(
                [(self.chosen, y.start), (self.chosen, y.end)],
                mark.stroke_width(1),
            ))?
            .label(format!("chosen λ = {:e}", self.chosen))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], mark));
        if let Some(s) = self.chosen_score {
            chart.draw_series([Circle::new((self.chosen, s), 6, mark.filled())])?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font(("sans-serif", 14))
            .draw()?;
        Ok(())
    }
}
