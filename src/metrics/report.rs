//! The metrics report: `{"corpus": {metric: value}, "per_image": {id: {metric: value}},
//! "not_computed": {metric: reason}}`, with pycocoevalcap's metric names (`Bleu_1`..`Bleu_4`,
//! `METEOR`, `ROUGE_L`, `CIDEr`, `SPICE`) and `CLIP-S`, `RefCLIP-S`, `PAC-S`, `RefPAC-S`,
//! `aCLIP-S`, `RefaCLIP-S`.
//!
//! A metric that could not be computed (no Java, no jar, no embeddings) appears under
//! `not_computed` with the reason — never as a zero.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

/// Scores of several metrics over one evaluated set.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    /// Metric names in the order they were added (the table's column order).
    pub metrics: Vec<String>,
    /// Corpus value of each metric.
    pub corpus: BTreeMap<String, f64>,
    /// Per id, the value of each metric.
    pub per_image: BTreeMap<String, BTreeMap<String, f64>>,
    /// Metrics asked for but not computed, with the reason.
    pub not_computed: BTreeMap<String, String>,
}

impl Report {
    /// Add one metric: its corpus value and one value per id (`ids[i]` with `per_item[i]`).
    pub fn add(&mut self, metric: &str, corpus: f64, ids: &[String], per_item: &[f64]) {
        self.metrics.push(metric.to_owned());
        self.corpus.insert(metric.to_owned(), corpus);
        for (id, &v) in ids.iter().zip(per_item) {
            self.per_image
                .entry(id.clone())
                .or_default()
                .insert(metric.to_owned(), v);
        }
    }

    /// Record a metric that was asked for but could not be computed.
    pub fn skip(&mut self, metric: &str, reason: impl Into<String>) {
        self.not_computed.insert(metric.to_owned(), reason.into());
    }

    /// The report as JSON (`not_computed` only when something was skipped).
    pub fn to_json(&self) -> Value {
        let mut out = Map::new();
        out.insert("corpus".into(), json!(self.corpus));
        out.insert("per_image".into(), json!(self.per_image));
        if !self.not_computed.is_empty() {
            out.insert("not_computed".into(), json!(self.not_computed));
        }
        Value::Object(out)
    }

    /// A table for people: one line per metric with its corpus value, then what was skipped.
    pub fn table(&self) -> String {
        let names = self.metrics.iter().chain(self.not_computed.keys());
        let width = names.map(String::len).max().unwrap_or(6).max(6);
        let mut s = format!("{:<width$}  {:>10}\n", "metric", "corpus");
        for m in &self.metrics {
            s += &format!("{m:<width$}  {:>10.4}\n", self.corpus[m]);
        }
        for (m, why) in &self.not_computed {
            s += &format!("{m:<width$}  not computed ({why})\n");
        }
        s
    }
}
