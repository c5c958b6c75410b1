//! `recap dal`: ReCap's datastore-augmentation loop (see [`crate::pipeline::dal`]).
//!
//! ```text
//! recap dal <the inputs of recap caption> --iterations 3 (--threshold T | --top-fraction F)
//!     --state-dir dal/ [--out results.json] [--json]
//!     [--references refs.json [--meteor-jar meteor-1.5.jar]]
//! ```
//!
//! Every iteration captions every image with ReCap from the current datastore (an image never
//! retrieves its own synthetic captions), keeps the best candidates and appends them with
//! their provenance. The state is saved after each iteration in `--state-dir` (the datastore
//! of the last complete iteration, `dal.json` with the provenance and the per-iteration
//! reports); running the same command again resumes where it stopped. `--out` writes the
//! captions of the last iteration as COCO results. With `--references`, every iteration's
//! chosen captions (one per captioned image) are scored as `recap caption --references`
//! scores them (BLEU-1..4, METEOR, ROUGE-L, CIDEr-D, CLIP-S, RefCLIP-S; aCLIP-S and
//! RefaCLIP-S with `--map`): the corpus values go into each iteration's report in `dal.json`
//! and are printed per iteration.

use std::path::PathBuf;

use clap::Args;
use serde_json::json;

use super::caption::{on_cpu, Parts, PipelineArgs};
use super::caption_metrics::score_captions;
use super::progress::bar;
use crate::error::{Error, Result};
use crate::io::atomic::write_json_atomic;
use crate::pipeline::dal::{Dal, DalHooks, Evaluate, IterationReport, Keep};
use crate::pipeline::recap::ReCapCaptioner;

/// Options of `recap dal`.
#[derive(Args, Debug)]
pub struct DalArgs {
    #[command(flatten)]
    pub pipeline: PipelineArgs,
    /// Iterations of the loop.
    #[arg(long, default_value_t = 1)]
    pub iterations: usize,
    /// Keep candidates whose re-ranking score is at least this.
    #[arg(
        long,
        conflicts_with = "top_fraction",
        required_unless_present = "top_fraction"
    )]
    pub threshold: Option<f64>,
    /// Keep this fraction (0, 1] of the best candidates per iteration.
    #[arg(long)]
    pub top_fraction: Option<f64>,
    /// Folder of the resumable state.
    #[arg(long, value_name = "DIR")]
    pub state_dir: PathBuf,
    /// COCO results of the last iteration's captions.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Print the per-iteration reports as JSON.
    #[arg(long)]
    pub json: bool,
    /// Reference captions (COCO annotations, Karpathy or `{"id": [refs]}`): score every
    /// iteration's captions against them.
    #[arg(long, value_name = "FILE")]
    pub references: Option<PathBuf>,
    /// METEOR 1.5 jar for --references (default: $RECAP_METEOR_JAR; without one METEOR is
    /// listed as skipped).
    #[arg(long, value_name = "JAR", requires = "references")]
    pub meteor_jar: Option<PathBuf>,
}

/// Run `recap dal`.
pub fn run(args: DalArgs) -> Result<()> {
    on_cpu(&args.pipeline, || run_in_pool(&args))
}

fn run_in_pool(args: &DalArgs) -> Result<()> {
    let p = &args.pipeline;
    let quiet = p.compute.quiet || args.json;
    let keep = match (args.threshold, args.top_fraction) {
        (Some(t), _) => Keep::Threshold(t),
        (None, Some(f)) => Keep::TopFraction(f),
        (None, None) => {
            return Err(Error::invalid(
                "threshold",
                "give --threshold or --top-fraction",
            ))
        }
    };
    let dal = Dal::new(args.iterations, p.k, keep)?;
    let parts = Parts::load(p, quiet)?;
    let recap = parts.recap(p);
    let mut captioner = ReCapCaptioner::new(&recap, &parts.images);
    let progress = bar(args.iterations as u64, "iterations", quiet);
    let mut on_iteration = |r: &IterationReport| {
        progress.set_position(r.iteration as u64);
        if !quiet {
            progress.println(iteration_line(r));
        }
    };
    let mut evaluate = |chosen: &[(usize, String)]| -> Result<serde_json::Value> {
        let path = args
            .references
            .as_deref()
            .expect("evaluate only with --references");
        let report = score_captions(
            chosen,
            &parts.ids,
            &parts.scoring(),
            path,
            args.meteor_jar.as_deref(),
        )?;
        Ok(json!({ "corpus": report.corpus, "not_computed": report.not_computed }))
    };
    let hooks = DalHooks {
        on_iteration: &mut on_iteration,
        evaluate: args
            .references
            .is_some()
            .then_some(&mut evaluate as &mut Evaluate<'_>),
    };
    let (ds, state) = dal.run_with(
        &parts.images,
        parts.datastore.clone(),
        None,
        &mut captioner,
        &args.state_dir,
        hooks,
    )?;
    progress.finish_and_clear();
    if let Some(out) = &args.out {
        let last: Vec<_> = state
            .synthetic
            .iter()
            .filter(|s| s.iteration == state.completed)
            .map(|s| json!({"image_id": super::caption::coco_id(&parts.ids[s.image]), "caption": s.text}))
            .collect();
        write_json_atomic(out, &last)?;
    }
    let summary = json!({ "iterations": state.reports, "datastore_rows": ds.rows(), "base_rows": state.base_rows, "synthetic": state.synthetic.len(), "stage_seconds": captioner.times });
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&summary).unwrap_or_default()
        );
    } else {
        println!(
            "{} iterations complete; datastore {} rows ({} synthetic) in {}",
            state.completed,
            ds.rows(),
            state.synthetic.len(),
            args.state_dir.display()
        );
    }
    Ok(())
}

/// One line per iteration for people: the counts, then the corpus metrics when scored.
fn iteration_line(r: &IterationReport) -> String {
    let mut line = format!(
        "iteration {}: {} captioned, {} added (mean score {:.4}), datastore {} rows",
        r.iteration, r.captioned, r.added, r.mean_added_score, r.datastore_rows
    );
    if let Some(corpus) = r.metrics.as_ref().and_then(|m| m["corpus"].as_object()) {
        let values: Vec<String> = corpus
            .iter()
            .filter_map(|(name, v)| v.as_f64().map(|v| format!("{name} {v:.4}")))
            .collect();
        line.push_str(&format!("; {}", values.join(", ")));
    }
    line
}
