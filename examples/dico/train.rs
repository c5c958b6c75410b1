//! Cross-entropy pre-training, DiCO and SCST fine-tuning, and held-out evaluation, shared by
//! the example (`main.rs`) and its test (`tests/dico_train.rs`).

use candle_core::{Device, Tensor, Var, D};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use recap::dico::{LogSoftmax, Objective, TokenLogits};
use recap::models::generate::{beam_search, BeamConfig, EarlyStopping, Rng};
use recap::RowMatrix;

use crate::data::{select_rows, tensor, Task, Teacher, EOS, PAD};
use crate::model::{Captioner, ModelConfig, Prompt, Res};

/// Every size and rate of a run.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Seed of the data, the initialization and the batch order.
    pub seed: u64,
    /// Training images (5 captions each).
    pub n_train: usize,
    /// Held-out images (the reported mean reward).
    pub n_held_out: usize,
    /// Embedding dimension of the synthetic data.
    pub dim: usize,
    /// Transformer width, heads, layers, feed-forward width, prefix tokens.
    pub d_model: usize,
    /// Attention heads.
    pub heads: usize,
    /// Transformer layers.
    pub layers: usize,
    /// Feed-forward width.
    pub ff: usize,
    /// Image prefix tokens.
    pub prefix: usize,
    /// Cross-entropy epochs over the training captions.
    pub xe_epochs: usize,
    /// Cross-entropy batch (captions).
    pub xe_batch: usize,
    /// Cross-entropy learning rate.
    pub xe_lr: f64,
    /// Fine-tuning steps (each: `ft_batch` images × K beam candidates).
    pub steps: usize,
    /// Images per fine-tuning step.
    pub ft_batch: usize,
    /// DiCO's learning rate.
    pub dico_lr: f64,
    /// SCST's learning rate.
    pub scst_lr: f64,
    /// Candidates per image (beam width and returned beams).
    pub k: usize,
    /// DiCO's β.
    pub beta: f64,
    /// DiCO's τ.
    pub tau: f64,
    /// Evaluate every this many fine-tuning steps.
    pub eval_every: usize,
}

impl Settings {
    /// The example's default size (a few minutes on 2 cores).
    pub fn default_size() -> Settings {
        Settings {
            seed: 0,
            n_train: 2000,
            n_held_out: 200,
            dim: 64,
            d_model: 64,
            heads: 4,
            layers: 2,
            ff: 128,
            prefix: 2,
            xe_epochs: 4,
            xe_batch: 64,
            xe_lr: 2e-3,
            steps: 150,
            ft_batch: 8,
            dico_lr: 2e-4,
            scst_lr: 2e-4,
            k: recap::dico::defaults::CANDIDATES,
            beta: recap::dico::defaults::BETA,
            tau: recap::dico::defaults::TAU,
            eval_every: 25,
        }
    }

    /// The test's size (seconds).
    pub fn tiny() -> Settings {
        Settings {
            n_train: 300,
            n_held_out: 40,
            d_model: 32,
            layers: 1,
            ff: 64,
            xe_epochs: 6,
            xe_batch: 32,
            steps: 60,
            ft_batch: 4,
            dico_lr: 1e-3,
            scst_lr: 1e-3,
            eval_every: 30,
            ..Settings::default_size()
        }
    }

    fn beam(&self, returned: usize, max_new_tokens: usize) -> BeamConfig {
        BeamConfig {
            num_beams: self.k,
            num_return_sequences: returned,
            length_penalty: 1.0,
            early_stopping: EarlyStopping::False,
            max_new_tokens,
        }
    }
}

/// The task and the cross-entropy model (not yet trained).
///
/// The matrices are tiny (tens of rows): candle's and gemm's threads cost far more than they
/// save, ~10× on a loaded 2-core machine, so unless `RAYON_NUM_THREADS` is set the run is
/// made single-threaded (set before candle or rayon start any thread).
pub fn setup(s: &Settings) -> Res<(Task, Captioner, Vec<Var>)> {
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        std::env::set_var("RAYON_NUM_THREADS", "1");
    }
    let task = Task::new(s.n_train, s.n_held_out, s.dim, s.seed)?;
    let cfg = ModelConfig {
        vocab: task.vocab.len(),
        image_dim: s.dim,
        d_model: s.d_model,
        heads: s.heads,
        layers: s.layers,
        ff: s.ff,
        prefix: s.prefix,
        max_len: task.max_caption + 4,
    };
    let (model, vars) = Captioner::init(cfg, s.seed)?;
    Ok((task, model, vars))
}

/// Tokens generated at most: the longest reference caption plus slack.
fn max_new_tokens(task: &Task) -> usize {
    task.max_caption + 3
}

/// One row of the cross-entropy table.
#[derive(Debug, Clone)]
pub struct XeRow {
    /// Epoch (1-based; 0: the initialization).
    pub epoch: usize,
    /// Mean token cross-entropy over the epoch.
    pub loss: f64,
    /// Held-out mean reward of the beam search's best caption.
    pub reward: f64,
}

/// Masked mean token cross-entropy of `logits` `(B, T, V)` against `targets`.
fn cross_entropy(logits: &Tensor, t: &Teacher) -> Res<Tensor> {
    let v = logits.dim(D::Minus1)?;
    let lsm = candle_nn::ops::log_softmax(&logits.reshape((t.batch * t.len, v))?, 1)?;
    let ids = Tensor::from_slice(&t.targets, (t.batch * t.len, 1), &Device::Cpu)?;
    let picked = lsm.gather(&ids, 1)?.squeeze(1)?;
    let mask: Vec<f32> = t
        .targets
        .iter()
        .map(|&y| f32::from(u8::from(y != PAD)))
        .collect();
    let count = mask.iter().sum::<f32>() as f64;
    let mask = Tensor::from_vec(mask, t.batch * t.len, &Device::Cpu)?;
    Ok(((picked * mask)?.sum_all()? / (-count))?)
}

/// Pre-train with cross-entropy on the training captions; one row per epoch (row 0: init).
pub fn pretrain(s: &Settings, task: &Task, model: &Captioner, vars: Vec<Var>) -> Res<Vec<XeRow>> {
    let params = ParamsAdamW {
        lr: s.xe_lr,
        weight_decay: 0.0,
        ..ParamsAdamW::default()
    };
    let mut opt = AdamW::new(vars, params)?;
    let mut rng = Rng::new(s.seed ^ 0x5eed);
    let mut order: Vec<usize> = (0..task.train.captions.len()).collect();
    let mut rows = vec![XeRow {
        epoch: 0,
        loss: f64::NAN,
        reward: evaluate(s, task, model)?,
    }];
    for epoch in 1..=s.xe_epochs {
        shuffle(&mut order, &mut rng);
        let (mut total, mut batches) = (0.0, 0usize);
        for chunk in order.chunks(s.xe_batch) {
            let seqs: Vec<Vec<u32>> = chunk
                .iter()
                .map(|&i| task.train.captions[i].1.clone())
                .collect();
            let img_rows: Vec<usize> = chunk.iter().map(|&i| task.train.captions[i].0).collect();
            let images = tensor(&select_rows(&task.train.images, &img_rows)?)?;
            let teacher = Teacher::new(&seqs)?;
            let loss = cross_entropy(&model.forward(&images, &teacher.inputs)?, &teacher)?;
            opt.backward_step(&loss)?;
            total += f64::from(loss.to_scalar::<f32>()?);
            batches += 1;
        }
        rows.push(XeRow {
            epoch,
            loss: total / batches as f64,
            reward: evaluate(s, task, model)?,
        });
    }
    Ok(rows)
}

fn shuffle(v: &mut [usize], rng: &mut Rng) {
    for i in (1..v.len()).rev() {
        let j = (rng.uniform() * (i + 1) as f64) as usize;
        v.swap(i, j.min(i));
    }
}

/// Held-out mean reward of the best beam (width K) caption of every held-out image.
pub fn evaluate(s: &Settings, task: &Task, model: &Captioner) -> Res<f64> {
    let images = &task.held_out.images;
    let mut best = Vec::with_capacity(images.rows());
    for i in 0..images.rows() {
        let prompt = Prompt::new(model, images.row(i), EOS)?;
        let c = beam_search(&prompt, &s.beam(1, max_new_tokens(task)))?;
        best.push(
            c.first()
                .map(|c| c.tokens.clone())
                .unwrap_or_else(|| vec![EOS]),
        );
    }
    task.mean_reward(images, &best)
}

/// The K beam candidates of each image row (repeating the last one if beam search returned
/// fewer), image-major.
fn candidates(
    s: &Settings,
    task: &Task,
    model: &Captioner,
    images: &RowMatrix<f32>,
) -> Res<Vec<Vec<u32>>> {
    let mut out = Vec::with_capacity(images.rows() * s.k);
    for i in 0..images.rows() {
        let prompt = Prompt::new(model, images.row(i), EOS)?;
        let found = beam_search(&prompt, &s.beam(s.k, max_new_tokens(task)))?;
        let mut seqs: Vec<Vec<u32>> = found.into_iter().map(|c| c.tokens).collect();
        if seqs.is_empty() {
            seqs.push(vec![EOS]);
        }
        while seqs.len() < s.k {
            seqs.push(seqs[seqs.len() - 1].clone());
        }
        out.extend(seqs);
    }
    Ok(out)
}

/// The fine-tuning objective.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// DiCO: the DPO-style margin against the frozen XE reference.
    Dico,
    /// SCST-style REINFORCE on the reward, with the mean reward of the image's candidates
    /// as the baseline: `L = −(1/(B·K)) Σ (r_k − r̄) ℓ_θ(y_k)`.
    Scst,
}

/// One row of a fine-tuning table: means over the steps since the previous row.
#[derive(Debug, Clone)]
pub struct FtRow {
    /// Steps done.
    pub step: usize,
    /// Held-out mean reward.
    pub reward: f64,
    /// Mean training reward of the candidates.
    pub train_reward: f64,
    /// Mean `β(ℓ_θ(y_w) − ℓ_ref(y_w))` (winners).
    pub chosen: f64,
    /// Mean `β Σ_j γ_j (ℓ_θ(y_j) − ℓ_ref(y_j))` (losers).
    pub rejected: f64,
    /// Mean loss of the method.
    pub loss: f64,
}

/// Fine-tune a copy of `xe` with `method` against the frozen reference `xe`; row 0 is the
/// XE model itself.
pub fn finetune(s: &Settings, task: &Task, xe: &Captioner, method: Method) -> Res<Vec<FtRow>> {
    let reference = xe.frozen_copy()?;
    let (policy, vars) = xe.trainable_copy()?;
    let lr = match method {
        Method::Dico => s.dico_lr,
        Method::Scst => s.scst_lr,
    };
    let params = ParamsAdamW {
        lr,
        weight_decay: 0.0,
        ..ParamsAdamW::default()
    };
    let mut opt = AdamW::new(vars, params)?;
    let mut rng = Rng::new(s.seed ^ 0xd1c0);
    let n = task.train.images.rows();
    let mut rows = vec![FtRow {
        step: 0,
        reward: evaluate(s, task, &policy)?,
        train_reward: f64::NAN,
        chosen: 0.0,
        rejected: 0.0,
        loss: f64::NAN,
    }];
    let mut acc = [0.0f64; 4];
    let mut count = 0usize;
    for step in 1..=s.steps {
        let img_rows: Vec<usize> = (0..s.ft_batch)
            .map(|_| (rng.uniform() * n as f64) as usize % n)
            .collect();
        let images = select_rows(&task.train.images, &img_rows)?;
        let stats = ft_step(s, task, &policy, &reference, &mut opt, &images, method)?;
        acc.iter_mut().zip(stats).for_each(|(a, v)| *a += v);
        count += 1;
        if step % s.eval_every == 0 || step == s.steps {
            let m = |i: usize| acc[i] / count as f64;
            rows.push(FtRow {
                step,
                reward: evaluate(s, task, &policy)?,
                train_reward: m(0),
                chosen: m(1),
                rejected: m(2),
                loss: m(3),
            });
            acc = [0.0; 4];
            count = 0;
        }
    }
    Ok(rows)
}

/// One update; returns (mean candidate reward, mean chosen, mean rejected, loss).
fn ft_step(
    s: &Settings,
    task: &Task,
    policy: &Captioner,
    reference: &Captioner,
    opt: &mut AdamW,
    images: &RowMatrix<f32>,
    method: Method,
) -> Res<[f64; 4]> {
    let k = s.k;
    let seqs = candidates(s, task, policy, images)?;
    let rewards = task.rewards(images, &seqs, k)?;
    let rep: Vec<usize> = (0..images.rows())
        .flat_map(|i| std::iter::repeat_n(i, k))
        .collect();
    let image_t = tensor(&select_rows(images, &rep)?)?;
    let teacher = Teacher::new(&seqs)?;
    let logits = policy.forward(&image_t, &teacher.inputs)?;
    let ref_logits = reference.forward(&image_t, &teacher.inputs)?;
    let data: Vec<f32> = logits.flatten_all()?.to_vec1()?;
    let ref_data: Vec<f32> = ref_logits.flatten_all()?.to_vec1()?;
    let token_logits = |data| TokenLogits {
        data,
        targets: &teacher.targets,
        batch: teacher.batch,
        len: teacher.len,
        vocab: policy.cfg.vocab,
        pad_id: PAD,
    };
    let lsm = LogSoftmax::new(token_logits(&data), k)?;
    let logp = lsm.sequence_logprobs()?;
    let logp_ref = LogSoftmax::new(token_logits(&ref_data), k)?.sequence_logprobs()?;
    let out = Objective::new()
        .tau(s.tau)
        .beta(s.beta)
        .evaluate(&rewards, k, &logp, &logp_ref)?;
    let (grad_logp, loss) = match method {
        Method::Dico => (out.grad_logp_policy.clone(), out.loss),
        Method::Scst => scst(&rewards, &logp, k),
    };
    let grad = lsm.logits_grad(&grad_logp)?;
    let grad = Tensor::from_vec(grad, logits.shape(), &Device::Cpu)?;
    // ∂(Σ logits ⊙ G)/∂θ = Σ G ⊙ ∂logits/∂θ = ∂L/∂θ.
    opt.backward_step(&(logits * grad)?.sum_all()?)?;
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    Ok([
        mean(&rewards),
        mean(&out.chosen_rewards),
        mean(&out.rejected_rewards),
        loss,
    ])
}

/// SCST's gradient w.r.t. the sequence log-probabilities, `−(r_k − r̄_i)/(B·K)`, and its loss.
fn scst(rewards: &[f64], logp: &[f64], k: usize) -> (Vec<f64>, f64) {
    let n = rewards.len() as f64;
    let mut grad = Vec::with_capacity(rewards.len());
    let mut loss = 0.0;
    for (r, l) in rewards.chunks(k).zip(logp.chunks(k)) {
        let base = r.iter().sum::<f64>() / k as f64;
        for (&rk, &lk) in r.iter().zip(l) {
            grad.push(-(rk - base) / n);
            loss -= (rk - base) * lk / n;
        }
    }
    (grad, loss)
}

/// The cross-entropy table.
pub fn xe_table(rows: &[XeRow]) -> String {
    let mut t = String::from("| epoch | train XE loss | held-out reward |\n|---:|---:|---:|\n");
    for r in rows {
        let loss = if r.loss.is_nan() {
            "-".into()
        } else {
            format!("{:.4}", r.loss)
        };
        t += &format!("| {} | {} | {:.4} |\n", r.epoch, loss, r.reward);
    }
    t
}

/// A fine-tuning table.
pub fn ft_table(rows: &[FtRow]) -> String {
    let mut t = String::from(
        "| step | held-out reward | train reward | β·logratio winners | β·logratio losers | loss |\n|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in rows {
        let f = |v: f64| {
            if v.is_nan() {
                "-".into()
            } else {
                format!("{v:.4}")
            }
        };
        t += &format!(
            "| {} | {:.4} | {} | {:.3} | {:.3} | {} |\n",
            r.step,
            r.reward,
            f(r.train_reward),
            r.chosen,
            r.rejected,
            f(r.loss)
        );
    }
    t
}
