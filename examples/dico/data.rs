//! The task: `recap synth` images and captions, a word vocabulary, teacher-forcing batches,
//! and PAC-S-style rewards of any caption through the synthetic world's text rule.

use std::collections::HashMap;

use candle_core::{Device, Tensor};
use recap::dico::{rewards, Reward};
use recap::synth::{generate, SynthConfig, TextEncoder};
use recap::RowMatrix;

use crate::model::Res;

/// Padding id (masked out of every loss).
pub const PAD: u32 = 0;
/// Begin-of-sequence id (the first input token).
pub const BOS: u32 = 1;
/// End-of-sequence id (the last target token).
pub const EOS: u32 = 2;

/// Word vocabulary of the synthetic captions, with the three specials first.
pub struct Vocab {
    words: Vec<String>,
    index: HashMap<String, u32>,
}

impl Vocab {
    /// Every whitespace-separated word of `texts`, in order of first occurrence.
    pub fn from_texts<'a>(texts: impl Iterator<Item = &'a str>) -> Vocab {
        let mut words: Vec<String> = ["<pad>", "<bos>", "<eos>"].map(String::from).to_vec();
        let mut index: HashMap<String, u32> = HashMap::new();
        for (i, w) in words.iter().enumerate() {
            index.insert(w.clone(), i as u32);
        }
        for w in texts.flat_map(str::split_whitespace) {
            if !index.contains_key(w) {
                index.insert(w.to_string(), words.len() as u32);
                words.push(w.to_string());
            }
        }
        Vocab { words, index }
    }

    /// Size, specials included.
    pub fn len(&self) -> usize {
        self.words.len()
    }

    /// Word ids of `text` followed by EOS (unknown words are skipped).
    pub fn encode(&self, text: &str) -> Vec<u32> {
        let mut ids: Vec<u32> = text
            .split_whitespace()
            .filter_map(|w| self.index.get(w).copied())
            .collect();
        ids.push(EOS);
        ids
    }

    /// The text of generated ids, up to the first EOS, specials dropped.
    pub fn decode(&self, ids: &[u32]) -> String {
        ids.iter()
            .take_while(|&&t| t != EOS)
            .filter(|&&t| t > EOS)
            .map(|&t| self.words[t as usize].as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Images (rows of unit embeddings) with, for training images, their reference captions.
pub struct Split {
    /// Image embeddings.
    pub images: RowMatrix<f32>,
    /// Token ids of every reference caption (EOS included) and its image row.
    pub captions: Vec<(usize, Vec<u32>)>,
}

/// Everything the runs share.
pub struct Task {
    /// Training images and captions.
    pub train: Split,
    /// Held-out images (their captions unused).
    pub held_out: Split,
    /// The word vocabulary.
    pub vocab: Vocab,
    /// Embeds any caption (the reward's text side).
    pub encoder: TextEncoder,
    /// PAC-S's weighting (`w = 2`, no clipping).
    pub reward: Reward,
    /// The longest reference caption in tokens (EOS included).
    pub max_caption: usize,
}

impl Task {
    /// Generate `n_train + n_held_out` images of dimension `dim` (5 captions each) from `seed`.
    pub fn new(n_train: usize, n_held_out: usize, dim: usize, seed: u64) -> Res<Task> {
        let cfg = SynthConfig {
            n_images: n_train + n_held_out,
            dim,
            seed,
            ..SynthConfig::default()
        };
        let data = generate(&cfg)?;
        let encoder = TextEncoder::new(&cfg)?;
        let (train, held_out) = data.split_at(n_train)?;
        let vocab = Vocab::from_texts(data.captions.captions().iter().map(|c| c.text.as_str()));
        let split = |d: &recap::synth::SynthData| Split {
            images: d.images.clone(),
            captions: d
                .captions
                .captions()
                .iter()
                .enumerate()
                .map(|(row, c)| (row / cfg.captions_per_image, vocab.encode(&c.text)))
                .collect(),
        };
        let (train, held_out) = (split(&train), split(&held_out));
        let max_caption = train.captions.iter().map(|c| c.1.len()).max().unwrap_or(1);
        Ok(Task {
            train,
            held_out,
            vocab,
            encoder,
            reward: Reward::new(recap::dico::defaults::PAC_S_WEIGHT),
            max_caption,
        })
    }

    /// Rewards `w · cos(image, text)` of `K` token sequences per image (image-major), the
    /// texts embedded by [`TextEncoder`].
    pub fn rewards(&self, images: &RowMatrix<f32>, seqs: &[Vec<u32>], k: usize) -> Res<Vec<f64>> {
        let texts: Vec<String> = seqs.iter().map(|s| self.vocab.decode(s)).collect();
        let embedded = self.encoder.embed_all(&texts)?;
        Ok(rewards(images, &embedded, k, &self.reward)?)
    }

    /// Mean reward of one sequence per image row.
    pub fn mean_reward(&self, images: &RowMatrix<f32>, seqs: &[Vec<u32>]) -> Res<f64> {
        // `rewards` takes K ≥ 2 candidates per image: score every sequence twice.
        let twice: Vec<Vec<u32>> = seqs.iter().flat_map(|s| [s.clone(), s.clone()]).collect();
        let r = self.rewards(images, &twice, 2)?;
        Ok(r.iter().sum::<f64>() / r.len() as f64)
    }

    /// Mean reward of the reference captions of the held-out images (for context).
    pub fn reference_reward(&self) -> Res<f64> {
        let seqs: Vec<Vec<u32>> = self.held_out.captions.iter().map(|c| c.1.clone()).collect();
        let rows: Vec<usize> = self.held_out.captions.iter().map(|c| c.0).collect();
        self.mean_reward(&select_rows(&self.held_out.images, &rows)?, &seqs)
    }
}

/// The rows `rows` of `m` (repeats allowed).
pub fn select_rows(m: &RowMatrix<f32>, rows: &[usize]) -> Res<RowMatrix<f32>> {
    let data: Vec<f32> = rows
        .iter()
        .flat_map(|&r| m.row(r).iter().copied())
        .collect();
    Ok(RowMatrix::from_vec(rows.len(), m.cols(), data)?)
}

/// A matrix as a `(rows, cols)` tensor.
pub fn tensor(m: &RowMatrix<f32>) -> Res<Tensor> {
    Ok(Tensor::from_slice(
        m.as_slice(),
        (m.rows(), m.cols()),
        &Device::Cpu,
    )?)
}

/// Teacher forcing for target sequences (EOS included where they have one): inputs
/// `[BOS, y_1 .. y_{n-1}]` and targets `[y_1 .. y_n]`, both padded with PAD to the longest.
pub struct Teacher {
    /// Input ids `(batch, len)`.
    pub inputs: Tensor,
    /// Target ids, row-major `batch · len`.
    pub targets: Vec<u32>,
    /// Sequences.
    pub batch: usize,
    /// Positions.
    pub len: usize,
}

impl Teacher {
    /// Inputs and targets of `seqs` (each non-empty).
    pub fn new(seqs: &[Vec<u32>]) -> Res<Teacher> {
        let len = seqs.iter().map(Vec::len).max().unwrap_or(0).max(1);
        let mut inputs = vec![PAD; seqs.len() * len];
        let mut targets = vec![PAD; seqs.len() * len];
        for (b, s) in seqs.iter().enumerate() {
            inputs[b * len] = BOS;
            for (t, &y) in s.iter().enumerate() {
                targets[b * len + t] = y;
                if t + 1 < len {
                    inputs[b * len + t + 1] = y;
                }
            }
        }
        Ok(Teacher {
            inputs: Tensor::from_vec(inputs, (seqs.len(), len), &Device::Cpu)?,
            targets,
            batch: seqs.len(),
            len,
        })
    }
}
