//! The corpus metrics of every DAL iteration: one line per metric, x = iteration.
//!
//! `recap dal --references` scores each iteration's chosen captions and keeps the corpus
//! values in the iteration's report (`metrics.corpus` of [`IterationReport`]), saved in
//! `STATE_DIR/dal.json` ([`DalState`]) and printed by `recap dal --json` (its `iterations`).
//! [`read_dal_metrics`] reads either (or the state folder); iterations without metrics (run
//! without `--references`) are left out.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{
    check_finite, check_nonempty, check_same_len, color, json_f64, padded_range, read_json,
    tick_decimals, write_figure, Drawn, Figure, Written,
};
use crate::error::{Error, Result};
use crate::pipeline::dal::{DalState, IterationReport};

/// Metric values per iteration: `metrics[m].1[i]` is metric `m` after iteration
/// `iterations[i]`.
#[derive(Clone, Debug, PartialEq)]
pub struct DalMetrics {
    /// The iterations (1-based, as DAL counts them), increasing.
    pub iterations: Vec<usize>,
    /// `(metric name, one value per iteration)`, in legend order.
    pub metrics: Vec<(String, Vec<f64>)>,
}

impl DalMetrics {
    /// The corpus metrics of the reports that have them (`metrics.corpus`, numbers only, in
    /// the first scored report's order).
    ///
    /// Errors: no report has metrics; a metric missing from a later scored iteration.
    pub fn from_reports(reports: &[IterationReport]) -> Result<Self> {
        let scored: Vec<(usize, &serde_json::Map<String, serde_json::Value>)> = reports
            .iter()
            .filter_map(|r| {
                let corpus = r.metrics.as_ref()?.get("corpus")?.as_object()?;
                Some((r.iteration, corpus))
            })
            .collect();
        let Some((_, first)) = scored.first() else {
            return Err(Error::invalid(
                "dal reports",
                "no iteration has metrics: run recap dal with --references to score them",
            ));
        };
        let names: Vec<&String> = first
            .iter()
            .filter(|(_, v)| v.is_number() || v.is_null())
            .map(|(k, _)| k)
            .collect();
        let mut metrics: Vec<(String, Vec<f64>)> =
            names.iter().map(|n| (n.to_string(), Vec::new())).collect();
        for (iteration, corpus) in &scored {
            for (name, values) in &mut metrics {
                let v = corpus
                    .get(name.as_str())
                    .and_then(json_f64)
                    .ok_or_else(|| {
                        Error::shape(
                            format!("DAL metric {name}"),
                            "a value at every scored iteration",
                            format!("none at iteration {iteration}"),
                        )
                    })?;
                values.push(v);
            }
        }
        Ok(DalMetrics {
            iterations: scored.iter().map(|s| s.0).collect(),
            metrics,
        })
    }
}

/// Draw the metrics per iteration (one line each) to `PREFIX.png` and `PREFIX.svg`.
///
/// Errors: no iterations or no metrics; a metric whose length differs from the iterations';
/// NaN/±Inf values; iterations not strictly increasing.
pub fn dal_metrics(data: &DalMetrics, prefix: impl AsRef<Path>) -> Result<Written> {
    check_nonempty("dal iterations", data.iterations.len())?;
    check_nonempty("dal metrics", data.metrics.len())?;
    if data.iterations.windows(2).any(|w| w[0] >= w[1]) {
        return Err(Error::invalid(
            "dal iterations",
            format!("{:?} is not strictly increasing", data.iterations),
        ));
    }
    for (name, values) in &data.metrics {
        check_same_len(
            &format!("DAL metric {name} vs the iterations"),
            data.iterations.len(),
            values.len(),
        )?;
        check_finite(&format!("DAL metric {name}"), values)?;
    }
    write_figure(&DalFigure { data: data.clone() }, prefix.as_ref())
}

/// The per-iteration metrics of a DAL run: `dal.json` (or the state folder holding it), or
/// the JSON `recap dal --json` prints (its `iterations`).
///
/// Errors: the file cannot be read or is not JSON; it holds no list of iteration reports; no
/// iteration has metrics.
pub fn read_dal_metrics(path: impl AsRef<Path>) -> Result<DalMetrics> {
    let mut path = path.as_ref().to_path_buf();
    if path.is_dir() {
        path = path.join("dal.json");
    }
    let value = read_json(&path)?;
    let reports = match (value.get("reports"), value.get("iterations")) {
        (Some(_), _) => {
            let state: DalState = serde_json::from_value(value).map_err(|e| Error::Json {
                path: path.clone(),
                source: e,
            })?;
            state.reports
        }
        (None, Some(list)) if list.is_array() => {
            serde_json::from_value(list.clone()).map_err(|e| Error::Json {
                path: path.clone(),
                source: e,
            })?
        }
        _ => {
            return Err(Error::format(
                &path,
                "no iteration reports: expected dal.json (\"reports\") or the JSON of \
                 recap dal --json (\"iterations\")",
            ))
        }
    };
    DalMetrics::from_reports(&reports).map_err(|e| match e {
        Error::InvalidArgument { problem, .. } => Error::format(&path, problem),
        e => e,
    })
}

struct DalFigure {
    data: DalMetrics,
}

impl Figure for DalFigure {
    fn size(&self) -> (u32, u32) {
        (800, 500)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn<DB> {
        let d = &self.data;
        let first = d.iterations[0] as f64;
        let last = d.iterations[d.iterations.len() - 1] as f64;
        let x = (first - 0.5)..(last + 0.5);
        let y = padded_range(d.metrics.iter().flat_map(|m| m.1.iter().copied()));
        let mut chart = ChartBuilder::on(root)
            .caption("caption metrics per DAL iteration", ("sans-serif", 20))
            .margin(14)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d(x, y.clone())?;
        let n_ticks = d.iterations.len() + 2;
        let dy = tick_decimals(&y);
        chart
            .configure_mesh()
            .x_desc("DAL iteration")
            .y_desc("corpus score")
            .x_labels(n_ticks)
            .x_label_formatter(&|v| {
                if (v - v.round()).abs() < 1e-9 {
                    format!("{v:.0}")
                } else {
                    String::new()
                }
            })
            .y_label_formatter(&|v| format!("{v:.dy$}"))
            .draw()?;
        for (i, (name, values)) in d.metrics.iter().enumerate() {
            let c = color(i);
            let pts: Vec<(f64, f64)> = d
                .iterations
                .iter()
                .zip(values)
                .map(|(&t, &v)| (t as f64, v))
                .collect();
            chart
                .draw_series(LineSeries::new(pts.iter().copied(), c.stroke_width(2)))?
                .label(name.clone())
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
        Ok(())
    }
}
