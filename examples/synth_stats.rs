//! Generate synthetic CLIP-like data and print what it looks like: generation time, norms,
//! modality gap, matched vs. random pair cosines, and image→caption recall@1 with the raw
//! image embeddings and after the true map.
//!
//! `cargo run --release --example synth_stats -- [N_IMAGES] [DIM] [SEED] [noise=σ ...]`

use std::time::Instant;

use recap::synth::{generate, SynthConfig};
use recap::RowMatrix;

fn main() -> recap::Result<()> {
    let all: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<usize> = all.iter().filter_map(|a| a.parse().ok()).collect();
    let mut cfg = SynthConfig {
        n_images: args.first().copied().unwrap_or(1000),
        dim: args.get(1).copied().unwrap_or(512),
        seed: args.get(2).copied().unwrap_or(0) as u64,
        ..SynthConfig::default()
    };
    // Optional overrides: noise=.. gap=.. gap_text=.. decay=.. identity_mix=.. content_weight=..
    for a in &all {
        if let Some((k, v)) = a.split_once('=') {
            let v: f64 = v.parse().expect("a number");
            match k {
                "noise" => cfg.noise = v,
                "gap" => cfg.gap = v,
                "gap_text" => cfg.gap_text = v,
                "decay" => cfg.decay = v,
                "identity_mix" => cfg.identity_mix = v,
                "content_weight" => cfg.content_weight = v,
                "drop_strength" => cfg.drop_strength = v,
                _ => panic!("unknown parameter {k}"),
            }
        }
    }
    let t = Instant::now();
    let data = generate(&cfg)?;
    let secs = t.elapsed().as_secs_f64();
    println!(
        "generated {} images x {} captions x {} dims in {:.3} s",
        cfg.n_images, cfg.captions_per_image, cfg.dim, secs
    );
    let (xn, yn) = (data.images.row_norms(), data.texts.row_norms());
    let dev = xn
        .iter()
        .chain(&yn)
        .map(|n| (n - 1.0).abs())
        .fold(0.0, f64::max);
    println!("max |row norm - 1|: {dev:.2e}");
    let cx = centroid(&data.images);
    let cy = centroid(&data.texts);
    println!(
        "centroid norms: images {:.3}, texts {:.3}; cos(centroids) {:.3}",
        norm(&cx),
        norm(&cy),
        dot(&cx, &cy) / norm(&cx) / norm(&cy)
    );
    let c = cfg.captions_per_image;
    let n = cfg.n_images;
    let matched: f64 = (0..n * c)
        .map(|r| dot32(data.images.row(r / c), data.texts.row(r)))
        .sum::<f64>()
        / (n * c) as f64;
    let random: f64 = (0..n * c)
        .map(|r| dot32(data.images.row((r / c + 1) % n), data.texts.row(r)))
        .sum::<f64>()
        / (n * c) as f64;
    println!("mean cos: matched pair {matched:.3}, mismatched {random:.3}");
    let mapped = map_rows(&data.images, &data.true_map);
    println!(
        "image->caption recall@1: raw {:.3}, true map {:.3}",
        recall_at_1(&data.images, &data.texts, c),
        recall_at_1(&mapped, &data.texts, c)
    );
    for r in 0..c {
        println!(
            "  caption {r} of image 0: {}",
            data.captions.captions()[r].text
        );
    }
    Ok(())
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}
fn dot32(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(&x, &y)| x as f64 * y as f64).sum()
}
fn norm(a: &[f64]) -> f64 {
    dot(a, a).sqrt()
}
fn centroid(m: &RowMatrix<f32>) -> Vec<f64> {
    let mut c = vec![0f64; m.cols()];
    for row in m.iter_rows() {
        c.iter_mut().zip(row).for_each(|(s, &v)| *s += v as f64);
    }
    c.iter_mut().for_each(|s| *s /= m.rows() as f64);
    c
}
fn map_rows(x: &RowMatrix<f32>, w: &RowMatrix<f32>) -> RowMatrix<f32> {
    let d = w.cols();
    let mut out = vec![0f32; x.rows() * d];
    for (row, o) in x.iter_rows().zip(out.chunks_exact_mut(d)) {
        for (k, &a) in row.iter().enumerate() {
            o.iter_mut().zip(w.row(k)).for_each(|(s, &b)| *s += a * b);
        }
    }
    RowMatrix::from_vec(x.rows(), d, out).unwrap()
}
/// Fraction of images whose best-scoring caption (cosine) is one of their own.
fn recall_at_1(queries: &RowMatrix<f32>, texts: &RowMatrix<f32>, c: usize) -> f64 {
    let hits = queries
        .iter_rows()
        .enumerate()
        .filter(|(i, q)| {
            let best = texts
                .iter_rows()
                .map(|t| dot32(q, t))
                .enumerate()
                .fold((0, f64::MIN), |b, (j, s)| if s > b.1 { (j, s) } else { b });
            best.0 / c == *i
        })
        .count();
    hits as f64 / queries.rows() as f64
}
