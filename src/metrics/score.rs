//! One call that computes the requested metrics on an evaluated set into a [`Report`].

use std::path::PathBuf;

use super::clip::{self, RefCosine};
use super::report::Report;
use super::{meteor, ngram_metrics, EvalSet};
use crate::error::{Error, Result};
use crate::io::Grouping;
use crate::matrix::RowMatrix;

/// A metric `recap score` can compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// BLEU-1..4 (`Bleu_1`..`Bleu_4`).
    Bleu,
    /// METEOR 1.5 via its jar.
    Meteor,
    /// ROUGE-L.
    Rouge,
    /// CIDEr-D (named `CIDEr`).
    Cider,
    /// SPICE (needs its jar and Stanford CoreNLP: always reported as not computed).
    Spice,
    /// CLIP-S (w = 2.5).
    ClipS,
    /// RefCLIP-S.
    RefClipS,
    /// PAC-S (w = 2.0).
    PacS,
    /// RefPAC-S.
    RefPacS,
    /// aCLIP-S: CLIP-S with mapped image embeddings.
    AClipS,
    /// RefaCLIP-S.
    RefAClipS,
}

impl Metric {
    /// All metrics, in report order.
    pub const ALL: [Metric; 11] = [
        Metric::Bleu,
        Metric::Meteor,
        Metric::Rouge,
        Metric::Cider,
        Metric::Spice,
        Metric::ClipS,
        Metric::RefClipS,
        Metric::PacS,
        Metric::RefPacS,
        Metric::AClipS,
        Metric::RefAClipS,
    ];

    /// The command-line name (`bleu`, `clip-s`, ...).
    pub fn cli_name(self) -> &'static str {
        match self {
            Metric::Bleu => "bleu",
            Metric::Meteor => "meteor",
            Metric::Rouge => "rouge",
            Metric::Cider => "cider",
            Metric::Spice => "spice",
            Metric::ClipS => "clip-s",
            Metric::RefClipS => "refclip-s",
            Metric::PacS => "pac-s",
            Metric::RefPacS => "refpac-s",
            Metric::AClipS => "aclip-s",
            Metric::RefAClipS => "refaclip-s",
        }
    }

    /// The report name (pycocoevalcap's for the COCO metrics).
    pub fn report_name(self) -> &'static str {
        match self {
            Metric::Bleu => "Bleu",
            Metric::Meteor => "METEOR",
            Metric::Rouge => "ROUGE_L",
            Metric::Cider => "CIDEr",
            Metric::Spice => "SPICE",
            Metric::ClipS => "CLIP-S",
            Metric::RefClipS => "RefCLIP-S",
            Metric::PacS => "PAC-S",
            Metric::RefPacS => "RefPAC-S",
            Metric::AClipS => "aCLIP-S",
            Metric::RefAClipS => "RefaCLIP-S",
        }
    }

    /// Parse a comma-separated list of command-line names.
    pub fn parse_list(s: &str) -> Result<Vec<Metric>> {
        s.split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(|t| {
                let t = t.to_ascii_lowercase();
                Metric::ALL
                    .into_iter()
                    .find(|m| m.cli_name() == t)
                    .ok_or_else(|| {
                        let names: Vec<_> = Metric::ALL.iter().map(|m| m.cli_name()).collect();
                        Error::invalid(
                            "metrics",
                            format!("unknown metric {t:?} (known: {})", names.join(", ")),
                        )
                    })
            })
            .collect()
    }

    fn needs_embeddings(self) -> bool {
        matches!(
            self,
            Metric::ClipS
                | Metric::RefClipS
                | Metric::PacS
                | Metric::RefPacS
                | Metric::AClipS
                | Metric::RefAClipS
        )
    }
}

/// Embeddings for the CLIP-based metrics, one image and candidate row per item.
#[derive(Debug, Clone)]
pub struct ClipInputs {
    /// Image embeddings (items x d_x).
    pub images: RowMatrix<f32>,
    /// Candidate text embeddings (items x d).
    pub candidates: RowMatrix<f32>,
    /// Reference text embeddings and which item each row belongs to.
    pub references: Option<(RowMatrix<f32>, Grouping)>,
    /// The alignment map (d_x -> d) for aCLIP-S / RefaCLIP-S: a map fitted by recap (its
    /// preprocessing repeated) or a plain W applied as `X @ W`.
    pub map: Option<crate::align::LinearMap>,
}

/// What to compute.
#[derive(Debug, Clone, Default)]
pub struct ScoreOptions {
    /// Metrics, in report order.
    pub metrics: Vec<Metric>,
    /// METEOR jar (else `$RECAP_METEOR_JAR`).
    pub meteor_jar: Option<PathBuf>,
    /// Embeddings for the CLIP-based metrics.
    pub clip: Option<ClipInputs>,
    /// Reference cosine variant of the Ref* scores.
    pub ref_cosine: RefCosine,
    /// Where the map product of aCLIP-S / RefaCLIP-S runs.
    pub device: crate::backend::Device,
}

/// Values of the computed metrics, per item in the set's order, and what was skipped.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Computed {
    /// (report name, corpus value, per-item values), in report order.
    pub values: Vec<(String, f64, Vec<f64>)>,
    /// (report name, reason) of metrics not computed.
    pub skipped: Vec<(String, String)>,
}

impl Computed {
    fn add(&mut self, name: &str, corpus: f64, _ids: &[String], per: &[f64]) {
        self.values.push((name.to_owned(), corpus, per.to_vec()));
    }

    fn skip(&mut self, name: &str, reason: impl Into<String>) {
        self.skipped.push((name.to_owned(), reason.into()));
    }

    /// The report, with per-item values keyed by `ids` (unique ids expected).
    pub fn into_report(self, ids: &[String]) -> Report {
        let mut rep = Report::default();
        for (name, corpus, per) in &self.values {
            rep.add(name, *corpus, ids, per);
        }
        for (name, why) in self.skipped {
            rep.skip(&name, why);
        }
        rep
    }
}

/// Compute the requested metrics into a [`Report`] keyed by the set's ids (see [`compute`]).
///
/// ```
/// use recap::metrics::score::{score, Metric, ScoreOptions};
/// use recap::metrics::{EvalSet, Tokenization};
/// let set = EvalSet::from_raw(
///     vec!["img1".into()],
///     vec!["a dog runs on the grass".into()],
///     vec![vec!["a dog running on grass".into(), "a brown dog on a lawn".into()]],
///     Tokenization::Ptb,
/// );
/// let opts = ScoreOptions {
///     metrics: vec![Metric::Bleu, Metric::Rouge, Metric::Cider],
///     ..ScoreOptions::default()
/// };
/// let report = score(&set, &opts)?;
/// let rouge = report.corpus["ROUGE_L"];
/// assert!(rouge > 0.0 && rouge < 1.0);
/// assert!(report.corpus.contains_key("Bleu_4") && report.corpus.contains_key("CIDEr"));
/// # Ok::<(), recap::Error>(())
/// ```
pub fn score(set: &EvalSet, opts: &ScoreOptions) -> Result<Report> {
    Ok(compute(set, opts)?.into_report(&set.ids))
}

/// Compute the requested metrics. Metrics whose tools or inputs are missing (METEOR without
/// Java/jar, SPICE, CLIP-based ones without embeddings or map) are listed as skipped, with
/// the reason; bad inputs (NaN embeddings, mismatched counts) are errors.
pub fn compute(set: &EvalSet, opts: &ScoreOptions) -> Result<Computed> {
    let mut rep = Computed::default();
    let want = |m: Metric| opts.metrics.contains(&m);
    let ngram = [Metric::Bleu, Metric::Rouge, Metric::Cider]
        .into_iter()
        .any(want)
        .then(|| ngram_metrics(set));
    for &m in &opts.metrics {
        match m {
            Metric::Bleu => {
                let b = &ngram.as_ref().expect("computed above").bleu;
                for k in 0..4 {
                    let per: Vec<f64> = b.per_item.iter().map(|v| v[k]).collect();
                    rep.add(&format!("Bleu_{}", k + 1), b.corpus[k], &set.ids, &per);
                }
            }
            Metric::Rouge => {
                let (c, per) = &ngram.as_ref().expect("computed above").rouge_l;
                rep.add("ROUGE_L", *c, &set.ids, per);
            }
            Metric::Cider => {
                let (c, per) = &ngram.as_ref().expect("computed above").cider;
                rep.add("CIDEr", *c, &set.ids, per);
            }
            Metric::Meteor => {
                match meteor::find_jar(opts.meteor_jar.as_deref())
                    .and_then(|jar| meteor::meteor(&jar, &set.cands, &set.refs))
                {
                    Ok(s) => rep.add("METEOR", s.corpus, &set.ids, &s.per_item),
                    Err(Error::ToolUnavailable { tool, reason }) => {
                        rep.skip("METEOR", format!("{tool}: {reason}"))
                    }
                    Err(e) => return Err(e),
                }
            }
            Metric::Spice => rep.skip(
                "SPICE",
                "SPICE needs its jar and Stanford CoreNLP models; recap does not run it",
            ),
            _ => {}
        }
    }
    let clip_metrics: Vec<Metric> = opts
        .metrics
        .iter()
        .copied()
        .filter(|m| m.needs_embeddings())
        .collect();
    if !clip_metrics.is_empty() {
        match &opts.clip {
            None => {
                for m in clip_metrics {
                    rep.skip(
                        m.report_name(),
                        "no embeddings given (--image-emb, --cand-emb)",
                    );
                }
            }
            Some(inputs) => {
                let variant = opts.ref_cosine;
                clip_family(set, inputs, &clip_metrics, variant, opts.device, &mut rep)?
            }
        }
    }
    Ok(rep)
}

fn clip_family(
    set: &EvalSet,
    inputs: &ClipInputs,
    metrics: &[Metric],
    variant: RefCosine,
    device: crate::backend::Device,
    rep: &mut Computed,
) -> Result<()> {
    let n = set.len();
    for (what, rows) in [
        ("image embeddings", inputs.images.rows()),
        ("candidate embeddings", inputs.candidates.rows()),
    ] {
        if rows != n {
            return Err(Error::shape(
                what,
                format!("{n} rows (one per candidate)"),
                format!("{rows} rows"),
            ));
        }
    }
    let ref_max = match &inputs.references {
        Some((r, g)) => Some(clip::ref_max_cosine(&inputs.candidates, r, g)?),
        None => None,
    };
    let mapped = match &inputs.map {
        Some(m) => Some(m.apply_on(device.resolve()?.as_ref(), &inputs.images)?),
        None => None,
    };
    for &m in metrics {
        let (images, w, with_ref) = match m {
            Metric::ClipS => (Some(&inputs.images), clip::CLIP_S_WEIGHT, false),
            Metric::RefClipS => (Some(&inputs.images), clip::CLIP_S_WEIGHT, true),
            Metric::PacS => (Some(&inputs.images), clip::PAC_S_WEIGHT, false),
            Metric::RefPacS => (Some(&inputs.images), clip::PAC_S_WEIGHT, true),
            Metric::AClipS => (mapped.as_ref(), clip::CLIP_S_WEIGHT, false),
            _ => (mapped.as_ref(), clip::CLIP_S_WEIGHT, true),
        };
        let Some(images) = images else {
            rep.skip(m.report_name(), "no alignment map given (--map W.npy)");
            continue;
        };
        let s = clip::clip_s(images, &inputs.candidates, w)?;
        if !with_ref {
            rep.add(m.report_name(), s.corpus, &set.ids, &s.per_item);
            continue;
        }
        match &ref_max {
            Some(r) => {
                let f = clip::ref_clip_s(&s, r, variant)?;
                rep.add(m.report_name(), f.corpus, &set.ids, &f.per_item);
            }
            None => rep.skip(m.report_name(), "no reference embeddings given (--ref-emb)"),
        }
    }
    Ok(())
}
