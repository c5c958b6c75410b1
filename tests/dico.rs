//! DiCO's objective against the authors' formulas in torch float64 (tests/data/dico/
//! make_fixtures.py, autograd for the gradients), finite differences, limits and bad input.

use std::process::Command;

use recap::dico::{
    logits_grad, preferences, rewards, sequence_logprobs, Objective, Reward, TokenLogits,
};
use recap::io::npy::{write_f32, write_f64};
use recap::{Error, RowMatrix};
use serde_json::Value;

fn cases() -> Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/dico/cases.json"
    ))
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

fn f64s(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn f32s(v: &Value) -> Vec<f32> {
    f64s(v).into_iter().map(|x| x as f32).collect()
}

fn usizes(v: &Value) -> Vec<usize> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as usize)
        .collect()
}

fn matrix(v: &Value, cols: usize) -> RowMatrix<f32> {
    let data = f32s(v);
    RowMatrix::from_vec(data.len() / cols, cols, data).unwrap()
}

/// |a − b| ≤ tol · max(1, |b|) elementwise.
fn assert_close(what: &str, a: &[f64], b: &[f64], tol: f64) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x - y).abs() <= tol * y.abs().max(1.0),
            "{what}[{i}]: {x} vs {y}"
        );
    }
}

fn objective_of(case: &Value) -> Objective {
    Objective::new()
        .tau(case["tau"].as_f64().unwrap())
        .beta(case["beta"].as_f64().unwrap())
}

#[test]
fn objective_equals_the_authors_formulas_in_float64() {
    for case in cases()["objective"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let (k, dim) = (
            case["k"].as_u64().unwrap() as usize,
            case["dim"].as_u64().unwrap() as usize,
        );
        let reward = Reward::new(case["weight"].as_f64().unwrap())
            .clip_at_zero(case["clip_at_zero"].as_bool().unwrap());
        let r = rewards(
            &matrix(&case["images"], dim),
            &matrix(&case["candidates"], dim),
            k,
            &reward,
        )
        .unwrap();
        assert_close(
            &format!("{name} rewards"),
            &r,
            &f64s(&case["rewards"]),
            1e-12,
        );
        let out = objective_of(case)
            .evaluate(&r, k, &f64s(&case["policy_logp"]), &f64s(&case["ref_logp"]))
            .unwrap();
        assert_eq!(out.winners, usizes(&case["winners"]), "{name} winners");
        for field in [
            "loser_weights",
            "margins",
            "loss_terms",
            "grad_logp_policy",
            "chosen_rewards",
            "rejected_rewards",
        ] {
            let ours = serde_json::to_value(&out).unwrap();
            assert_close(
                &format!("{name} {field}"),
                &f64s(&ours[field]),
                &f64s(&case[field]),
                1e-12,
            );
        }
        assert_close(
            &format!("{name} loss"),
            &[out.loss],
            &[case["loss"].as_f64().unwrap()],
            1e-12,
        );
    }
}

#[test]
fn ties_pick_the_first_winner() {
    let p = preferences(&[0.5, 0.9, 0.9, 0.1], 4, 300.0).unwrap();
    assert_eq!(p.winners, vec![1]);
    assert_eq!(p.loser_weights[1], 0.0);
    assert!((p.loser_weights.iter().sum::<f64>() - 1.0).abs() < 1e-15);
}

#[test]
fn logprobs_and_logit_gradients_equal_torch_autograd() {
    let case = &cases()["logprob"][0];
    let targets: Vec<u32> = usizes(&case["targets"])
        .into_iter()
        .map(|t| t as u32)
        .collect();
    let data = f32s(&case["logits"]);
    let logits = TokenLogits {
        data: &data,
        targets: &targets,
        batch: case["batch"].as_u64().unwrap() as usize,
        len: case["len"].as_u64().unwrap() as usize,
        vocab: case["vocab"].as_u64().unwrap() as usize,
        pad_id: case["pad_id"].as_u64().unwrap() as u32,
    };
    let k = case["k"].as_u64().unwrap() as usize;
    assert_close(
        "logp",
        &sequence_logprobs(&logits, k).unwrap(),
        &f64s(&case["logp"]),
        1e-12,
    );
    let grad = logits_grad(&logits, &f64s(&case["upstream"]), k).unwrap();
    let grad: Vec<f64> = grad.into_iter().map(f64::from).collect();
    // f32 output: relative 1e-6 of the largest entry.
    assert_close("grad logits", &grad, &f64s(&case["grad_logits"]), 1e-6);
}

#[test]
fn gradients_match_central_finite_differences() {
    let case = &cases()["objective"][0];
    let k = case["k"].as_u64().unwrap() as usize;
    let (r, pol, rf) = (
        f64s(&case["rewards"]),
        f64s(&case["policy_logp"]),
        f64s(&case["ref_logp"]),
    );
    let obj = objective_of(case);
    let grad = obj.evaluate(&r, k, &pol, &rf).unwrap().grad_logp_policy;
    let h = 1e-5;
    for i in 0..pol.len() {
        let (mut up, mut down) = (pol.clone(), pol.clone());
        up[i] += h;
        down[i] -= h;
        let fd = (obj.evaluate(&r, k, &up, &rf).unwrap().loss
            - obj.evaluate(&r, k, &down, &rf).unwrap().loss)
            / (2.0 * h);
        assert!(
            (fd - grad[i]).abs() < 1e-8,
            "candidate {i}: fd {fd} vs {}",
            grad[i]
        );
    }
    // Through the log-softmax: perturb logits, differentiate a linear function of ℓ.
    let lc = &cases()["logprob"][0];
    let targets: Vec<u32> = usizes(&lc["targets"])
        .into_iter()
        .map(|t| t as u32)
        .collect();
    let data = f32s(&lc["logits"]);
    let (batch, len, vocab) = (4, 9, 13);
    let up = f64s(&lc["upstream"]);
    let f = |d: &[f32]| -> f64 {
        let l = TokenLogits {
            data: d,
            targets: &targets,
            batch,
            len,
            vocab,
            pad_id: 0,
        };
        sequence_logprobs(&l, 2)
            .unwrap()
            .iter()
            .zip(&up)
            .map(|(a, b)| a * b)
            .sum()
    };
    let l = TokenLogits {
        data: &data,
        targets: &targets,
        batch,
        len,
        vocab,
        pad_id: 0,
    };
    let grad = logits_grad(&l, &up, 2).unwrap();
    for i in (0..data.len()).step_by(7) {
        let (mut a, mut b) = (data.clone(), data.clone());
        let h = 1e-2f32;
        a[i] += h;
        b[i] -= h;
        let fd = (f(&a) - f(&b)) / f64::from(a[i] - b[i]);
        assert!(
            (fd - f64::from(grad[i])).abs() < 2e-4,
            "logit {i}: fd {fd} vs {}",
            grad[i]
        );
    }
}

#[test]
fn limits_of_tau_and_a_zero_margin() {
    let r = [0.9, 0.1, 0.5, 0.1, 0.3];
    let uniform = preferences(&r, 5, 0.0).unwrap();
    assert_eq!(uniform.loser_weights, vec![0.0, 0.25, 0.25, 0.25, 0.25]);
    let sharp = preferences(&r, 5, 1e12).unwrap();
    assert_eq!(
        sharp.loser_weights,
        vec![0.0, 0.5, 0.0, 0.5, 0.0],
        "all weight on the worst losers"
    );
    let same = [-3.0, -4.0, -5.0, -6.0, -7.0];
    let out = Objective::new().evaluate(&r, 5, &same, &same).unwrap();
    assert!((out.loss - std::f64::consts::LN_2).abs() < 1e-15);
    assert_eq!(out.margins, vec![0.0]);
}

#[test]
fn bad_input_names_the_image_and_candidate() {
    let obj = Objective::new();
    let e = obj
        .evaluate(&[0.1; 7], 5, &[0.0; 7], &[0.0; 7])
        .unwrap_err();
    assert!(matches!(e, Error::Shape { .. }), "{e}");
    let e = obj
        .evaluate(&[0.1; 5], 1, &[0.0; 5], &[0.0; 5])
        .unwrap_err();
    assert!(e.to_string().contains("at least one loser"), "{e}");
    let mut pol = [0.0; 10];
    pol[7] = f64::NAN;
    let e = obj.evaluate(&[0.1; 10], 5, &pol, &[0.0; 10]).unwrap_err();
    assert!(e.to_string().contains("image 1 candidate 2"), "{e}");
    let images = RowMatrix::from_vec(2, 2, vec![1.0, 0.0, 0.0, 1.0]).unwrap();
    let mut cands =
        RowMatrix::from_vec(4, 2, vec![1.0, 1.0, 0.5, 0.0, 0.0, 0.0, 1.0, 2.0]).unwrap();
    let e = rewards(&images, &cands, 2, &Reward::default()).unwrap_err();
    assert!(
        matches!(e, Error::ZeroVector { .. }) && e.to_string().contains("image 1 candidate 0"),
        "{e}"
    );
    cands.row_mut(2)[0] = f32::INFINITY;
    let e = rewards(&images, &cands, 2, &Reward::default()).unwrap_err();
    assert!(
        matches!(e, Error::NonFinite { .. }) && e.to_string().contains("image 1 candidate 0"),
        "{e}"
    );
    let e = rewards(&images, &cands, 3, &Reward::default()).unwrap_err();
    assert!(matches!(e, Error::Shape { .. }), "{e}");
    let targets = [0u32, 0, 0, 1, 2, 0];
    let data = [0f32; 6 * 3];
    let l = TokenLogits {
        data: &data,
        targets: &targets,
        batch: 2,
        len: 3,
        vocab: 3,
        pad_id: 0,
    };
    let e = sequence_logprobs(&l, 2).unwrap_err();
    assert!(
        e.to_string()
            .contains("image 0 candidate 0 has no non-pad token"),
        "{e}"
    );
}

#[test]
fn cli_writes_what_the_library_computes() {
    let case = &cases()["objective"][0];
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name);
    let dim = case["dim"].as_u64().unwrap() as usize;
    write_f32(p("img.npy"), &matrix(&case["images"], dim)).unwrap();
    write_f32(p("cand.npy"), &matrix(&case["candidates"], dim)).unwrap();
    let col = |v: &Value| {
        let d = f64s(v);
        RowMatrix::from_vec(d.len(), 1, d).unwrap()
    };
    write_f64(p("pol.npy"), &col(&case["policy_logp"])).unwrap();
    write_f64(p("ref.npy"), &col(&case["ref_logp"])).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_recap"))
        .args(["dico", "--images"])
        .arg(p("img.npy"))
        .arg("--cand-emb")
        .arg(p("cand.npy"))
        .arg("--policy-logp")
        .arg(p("pol.npy"))
        .arg("--ref-logp")
        .arg(p("ref.npy"))
        .args(["--candidates-per-image", "5", "--json", "--out"])
        .arg(p("out.json"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    let written: Value =
        serde_json::from_str(&std::fs::read_to_string(p("out.json")).unwrap()).unwrap();
    assert_eq!(printed, written);
    assert_eq!(usizes(&printed["winners"]), usizes(&case["winners"]));
    for field in ["rewards", "loser_weights", "loss_terms", "grad_logp_policy"] {
        assert_close(field, &f64s(&printed[field]), &f64s(&case[field]), 1e-12);
    }
    // Rewards given directly, and the bad-shape error for K that does not divide the rows.
    write_f64(p("r.npy"), &col(&case["rewards"])).unwrap();
    let run = |k: &str| {
        Command::new(env!("CARGO_BIN_EXE_recap"))
            .args(["dico", "--rewards"])
            .arg(p("r.npy"))
            .arg("--policy-logp")
            .arg(p("pol.npy"))
            .arg("--ref-logp")
            .arg(p("ref.npy"))
            .args(["-k", k, "--json"])
            .output()
            .unwrap()
    };
    let again: Value = serde_json::from_slice(&run("5").stdout).unwrap();
    assert_eq!(again["loss"], printed["loss"]);
    let bad = run("4");
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("multiple of 4"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
}
