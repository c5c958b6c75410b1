//! Generation over a mock decoder whose logits are a function of the whole history, so that
//! a wrong cache reorder shows up as a wrong log-probability.

use std::cell::Cell;

use candle_core::{Device, Tensor};

use super::logprob::log_softmax;
use super::sample::warped_probs;
use super::*;

const V: usize = 6;
const EOS: u32 = 1;

/// Logits of the next token after `history`: a hash-like but smooth function; EOS grows
/// with the length so that sequences end.
fn mock_logits(history: &[u32]) -> Vec<f32> {
    let h = history
        .iter()
        .fold(7u64, |a, &t| a.wrapping_mul(31).wrapping_add(t as u64 + 3));
    (0..V)
        .map(|v| {
            let x = ((h.wrapping_mul(v as u64 + 11) % 97) as f32) / 20.0 + v as f32 * 1e-3; // no ties
            if v as u32 == EOS {
                x * 0.3 + history.len() as f32 * 0.9 - 2.0
            } else {
                x
            }
        })
        .collect()
}

struct Mock {
    steps: Cell<usize>,
}

impl Mock {
    fn new() -> Self {
        Self {
            steps: Cell::new(0),
        }
    }
    fn logits(hs: &[Vec<u32>]) -> Tensor {
        let data: Vec<f32> = hs.iter().flat_map(|h| mock_logits(h)).collect();
        Tensor::from_vec(data, (hs.len(), V), &Device::Cpu).unwrap()
    }
    /// Σ log p of `tokens` computed directly.
    fn logprob(tokens: &[u32]) -> f64 {
        (0..tokens.len())
            .map(|i| log_softmax(&mock_logits(&tokens[..i]))[tokens[i] as usize])
            .sum()
    }
}

impl Decoder for Mock {
    type State = Vec<Vec<u32>>;
    fn start(&self, n: usize) -> Result<(Self::State, Tensor)> {
        let hs = vec![vec![]; n];
        let l = Self::logits(&hs);
        Ok((hs, l))
    }
    fn step(&self, state: &mut Self::State, tokens: &[u32]) -> Result<Tensor> {
        assert_eq!(state.len(), tokens.len());
        self.steps.set(self.steps.get() + 1);
        for (h, &t) in state.iter_mut().zip(tokens) {
            h.push(t);
        }
        Ok(Self::logits(state))
    }
    fn reorder(&self, state: &mut Self::State, rows: &[usize]) -> Result<()> {
        *state = rows.iter().map(|&r| state[r].clone()).collect();
        Ok(())
    }
    fn eos_token_id(&self) -> u32 {
        EOS
    }
    fn vocab_size(&self) -> usize {
        V
    }
}

fn check(c: &Candidate, max: usize) {
    assert!((c.logprob - Mock::logprob(&c.tokens)).abs() < 1e-9, "{c:?}");
    let ends = *c.tokens.last().unwrap() == EOS;
    assert!(ends || c.tokens.len() == max, "{c:?}");
    assert!(!c.tokens[..c.tokens.len() - 1].contains(&EOS), "{c:?}");
}

#[test]
fn greedy_takes_the_argmax_and_stops_at_eos() {
    let c = greedy(&Mock::new(), 50).unwrap();
    assert_eq!(*c.tokens.last().unwrap(), EOS);
    check(&c, 50);
    for i in 0..c.tokens.len() {
        let lp = log_softmax(&mock_logits(&c.tokens[..i]));
        assert!(lp.iter().all(|&x| x <= lp[c.tokens[i] as usize]));
    }
    assert_eq!(greedy(&Mock::new(), 2).unwrap().tokens.len(), 2);
}

#[test]
fn beam_candidates_are_consistent_for_every_stopping_rule() {
    for es in [
        EarlyStopping::True,
        EarlyStopping::False,
        EarlyStopping::Never,
    ] {
        for lp in [0.0, 1.0, 2.0] {
            let cfg = BeamConfig {
                num_beams: 3,
                num_return_sequences: 3,
                length_penalty: lp,
                early_stopping: es,
                max_new_tokens: 8,
            };
            let got = beam_search(&Mock::new(), &cfg).unwrap();
            assert_eq!(got.len(), 3);
            for c in &got {
                check(c, 8);
                let norm = c.logprob / (c.tokens.len() as f64).powf(lp);
                assert!((c.score - norm).abs() < 1e-9);
            }
            assert!(got.windows(2).all(|w| w[0].score >= w[1].score));
            // The best beam is at least as good as greedy under the same scoring.
            let g = greedy(&Mock::new(), 8).unwrap();
            let gs = g.logprob / (g.tokens.len() as f64).powf(lp);
            assert!(
                got[0].score >= gs - 1e-9 || g.tokens.last() != Some(&EOS),
                "{es:?} {lp}"
            );
        }
    }
}

#[test]
fn early_stopping_true_stops_no_later_than_never() {
    let run = |es| {
        let m = Mock::new();
        let cfg = BeamConfig {
            num_beams: 2,
            num_return_sequences: 2,
            length_penalty: 1.0,
            early_stopping: es,
            max_new_tokens: 30,
        };
        beam_search(&m, &cfg).unwrap();
        m.steps.get()
    };
    assert!(run(EarlyStopping::True) <= run(EarlyStopping::Never));
}

#[test]
fn bad_settings_are_errors() {
    let m = Mock::new();
    let bad = [
        BeamConfig {
            num_beams: 0,
            ..BeamConfig::default()
        },
        BeamConfig {
            num_return_sequences: 5,
            ..BeamConfig::default()
        },
        BeamConfig {
            max_new_tokens: 0,
            ..BeamConfig::default()
        },
    ];
    for cfg in bad {
        assert!(beam_search(&m, &cfg).is_err(), "{cfg:?}");
    }
    for cfg in [
        SampleConfig {
            temperature: 0.0,
            ..SampleConfig::default()
        },
        SampleConfig {
            top_p: 0.0,
            ..SampleConfig::default()
        },
        SampleConfig {
            top_k: Some(0),
            ..SampleConfig::default()
        },
        SampleConfig {
            n: 0,
            ..SampleConfig::default()
        },
    ] {
        assert!(sample(&m, &cfg).is_err(), "{cfg:?}");
    }
}

#[test]
fn sampling_with_top_k_one_is_greedy_and_seeds_are_reproducible() {
    let g = greedy(&Mock::new(), 20).unwrap();
    let cfg = SampleConfig {
        n: 3,
        top_k: Some(1),
        max_new_tokens: 20,
        seed: 3,
        ..SampleConfig::default()
    };
    for c in sample(&Mock::new(), &cfg).unwrap() {
        assert_eq!(c.tokens, g.tokens);
    }
    let cfg = SampleConfig {
        n: 16,
        temperature: 2.0,
        max_new_tokens: 10,
        seed: 42,
        ..SampleConfig::default()
    };
    let a = sample(&Mock::new(), &cfg).unwrap();
    assert_eq!(a, sample(&Mock::new(), &cfg).unwrap());
    a.iter().for_each(|c| check(c, 10));
    assert!(
        a.iter().any(|c| c.tokens != a[0].tokens),
        "16 draws at T=2 are not all equal"
    );
}

#[test]
fn warpers_follow_hf() {
    let row = [1.0f32, 3.0, 2.0, 3.0, 0.0];
    // top-k = 2 keeps the ties at the 2nd largest value.
    let p = warped_probs(
        &row,
        &SampleConfig {
            top_k: Some(2),
            ..SampleConfig::default()
        },
    );
    assert_eq!(p.iter().filter(|&&x| x > 0.0).count(), 2);
    let p = warped_probs(
        &row,
        &SampleConfig {
            top_k: Some(3),
            ..SampleConfig::default()
        },
    );
    assert!(p[2] > 0.0 && p[0] == 0.0 && p[4] == 0.0);
    // top-p: the smallest set reaching p; at least one token.
    let row = [0.0f32, (4.0f32).ln(), (5.0f32).ln()]; // probs 0.1, 0.4, 0.5
    let p = warped_probs(
        &row,
        &SampleConfig {
            top_p: 0.85,
            ..SampleConfig::default()
        },
    );
    assert!(p[0] == 0.0 && p[1] > 0.0 && p[2] > 0.0);
    let p = warped_probs(
        &row,
        &SampleConfig {
            top_p: 0.01,
            ..SampleConfig::default()
        },
    );
    assert!(p[0] == 0.0 && p[1] == 0.0 && (p[2] - 1.0).abs() < 1e-12);
    let s: f64 = warped_probs(
        &row,
        &SampleConfig {
            temperature: 0.5,
            ..SampleConfig::default()
        },
    )
    .iter()
    .sum();
    assert!((s - 1.0).abs() < 1e-12);
}

#[test]
fn rng_is_deterministic_and_uniform() {
    let (mut a, mut b) = (Rng::new(5), Rng::new(5));
    let xs: Vec<f64> = (0..1000).map(|_| a.uniform()).collect();
    assert!(xs.iter().all(|&x| (0.0..1.0).contains(&x)));
    assert!(xs
        .iter()
        .zip((0..1000).map(|_| b.uniform()))
        .all(|(x, y)| *x == y));
    let mean = xs.iter().sum::<f64>() / 1000.0;
    assert!((mean - 0.5).abs() < 0.05);
    assert_ne!(Rng::new(6).next_u64(), Rng::new(5).next_u64());
}
