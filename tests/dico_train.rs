//! The DiCO training example (`examples/dico/`) at a tiny size with a fixed seed: DiCO's
//! fine-tuning raises the held-out mean reward above the cross-entropy model's while the
//! policy stays near the reference.
#![cfg(feature = "models")]

#[allow(dead_code)]
#[path = "../examples/dico/data.rs"]
mod data;
#[allow(dead_code)]
#[path = "../examples/dico/model.rs"]
mod model;
#[allow(dead_code)]
#[path = "../examples/dico/train.rs"]
mod train;

use train::{finetune, pretrain, setup, Method, Settings};

/// |mean β(ℓ_θ − ℓ_ref)| of winners and losers must stay below this (in units of β·nats:
/// 3.0 is 15 nats of sequence log-probability at β = 0.2).
const LOG_RATIO_BOUND: f64 = 3.0;

#[test]
fn dico_raises_the_held_out_reward_above_cross_entropy_with_a_bounded_log_ratio() {
    let s = Settings::tiny();
    let (task, xe, vars) = setup(&s).unwrap();
    let xe_rows = pretrain(&s, &task, &xe, vars).unwrap();
    let xe_reward = xe_rows.last().unwrap().reward;
    assert!(
        xe_rows[0].reward < xe_reward,
        "XE pre-training: {xe_rows:?}"
    );
    let rows = finetune(&s, &task, &xe, Method::Dico).unwrap();
    assert!(
        (rows[0].reward - xe_reward).abs() < 1e-9,
        "step 0 is the XE model"
    );
    let last = rows.last().unwrap();
    assert_eq!(last.step, s.steps);
    assert!(
        last.reward > xe_reward + 0.05,
        "DiCO {:.4} vs XE {xe_reward:.4}: {rows:?}",
        last.reward
    );
    for r in &rows {
        assert!(
            r.chosen.abs() < LOG_RATIO_BOUND && r.rejected.abs() < LOG_RATIO_BOUND,
            "{r:?}"
        );
        assert!(
            r.loss.is_nan() || (r.loss.is_finite() && r.loss > 0.0),
            "{r:?}"
        );
    }
}
