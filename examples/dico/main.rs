//! DiCO's training example: a small transformer captioner pre-trained with cross-entropy on
//! `recap synth` data, then fine-tuned with DiCO (and, for comparison, SCST) on PAC-S-style
//! rewards of its beam candidates. See README.md.

mod data;
mod model;
mod train;

use std::time::Instant;

use clap::Parser;

use train::{finetune, ft_table, pretrain, setup, xe_table, Method, Settings};

/// DiCO fine-tuning of a small captioner on synthetic CLIP-like data.
#[derive(Parser, Debug)]
struct Args {
    /// Seed of the data, the initialization and the batch order.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Fine-tuning steps of DiCO and SCST.
    #[arg(long)]
    steps: Option<usize>,
    /// Cross-entropy epochs.
    #[arg(long)]
    xe_epochs: Option<usize>,
    /// DiCO learning rate.
    #[arg(long)]
    dico_lr: Option<f64>,
    /// SCST learning rate.
    #[arg(long)]
    scst_lr: Option<f64>,
    /// DiCO's β.
    #[arg(long)]
    beta: Option<f64>,
    /// Evaluate every this many steps.
    #[arg(long)]
    eval_every: Option<usize>,
    /// Use the test's tiny size.
    #[arg(long)]
    tiny: bool,
}

fn main() -> model::Res<()> {
    let a = Args::parse();
    let mut s = if a.tiny {
        Settings::tiny()
    } else {
        Settings::default_size()
    };
    s.seed = a.seed;
    s.steps = a.steps.unwrap_or(s.steps);
    s.xe_epochs = a.xe_epochs.unwrap_or(s.xe_epochs);
    s.dico_lr = a.dico_lr.unwrap_or(s.dico_lr);
    s.scst_lr = a.scst_lr.unwrap_or(s.scst_lr);
    s.beta = a.beta.unwrap_or(s.beta);
    s.eval_every = a.eval_every.unwrap_or(s.eval_every);
    println!("{s:?}\n");
    let t0 = Instant::now();
    let (task, xe, vars) = setup(&s)?;
    println!(
        "vocabulary {} words, longest caption {} tokens, held-out reference captions' mean reward {:.4}\n",
        task.vocab.len(),
        task.max_caption,
        task.reference_reward()?
    );
    println!(
        "## Cross-entropy pre-training\n\n{}",
        xe_table(&pretrain(&s, &task, &xe, vars)?)
    );
    println!("({:.0} s)\n", t0.elapsed().as_secs_f64());
    for (name, method) in [
        ("DiCO", Method::Dico),
        ("SCST (mean-of-candidates baseline)", Method::Scst),
    ] {
        let t = Instant::now();
        let rows = finetune(&s, &task, &xe, method)?;
        println!("## {name}\n\n{}", ft_table(&rows));
        println!("({:.0} s)\n", t.elapsed().as_secs_f64());
    }
    Ok(())
}
