//! Decode-step timing of the FLAN-T5 implementation (the transformers side is
//! `benches/models/t5_transformers.py`, which also creates the random FLAN-T5-base weights).
//!
//! `cargo run --release --features models --example bench_t5 -- [/tmp/t5-base-random]`
//!
//! Prints medians: encoding a 120-token prompt (with the cross-attention keys/values), and
//! one cached decoder step (1..30 cached tokens) for 1 and for 8 hypotheses sharing it.

use std::time::Instant;

use recap::models::generate::Decoder;
use recap::models::resolve;
use recap::models::t5::T5;

/// "median / min ms" of timings in seconds (the min is the least disturbed by other load).
fn median_ms(mut xs: Vec<f64>) -> String {
    xs.sort_by(f64::total_cmp);
    format!("{:.1} / {:.1}", 1000.0 * xs[xs.len() / 2], 1000.0 * xs[0])
}

fn main() -> recap::Result<()> {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "/tmp/t5-base-random".into());
    let t = Instant::now();
    let model = T5::load(&resolve(&dir)?)?;
    println!("load: {:.0} ms", t.elapsed().as_secs_f64() * 1000.0);
    let mut prompt: Vec<u32> = (0..119u32).map(|i| 2 + (i * 7919) % 32000).collect();
    prompt.push(1);
    let mut enc = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let _ = model.bind(&prompt)?;
        enc.push(t.elapsed().as_secs_f64());
    }
    println!(
        "encode 120 tokens (+ cross K/V): {} ms (median / min)",
        median_ms(enc)
    );
    let bound = model.bind(&prompt)?;
    for n in [1usize, 8] {
        let (mut state, mut logits) = bound.start(n)?;
        let mut times = Vec::new();
        for _ in 0..30 {
            let rows = logits.to_vec2::<f32>().expect("logits");
            let next: Vec<u32> = rows
                .iter()
                .map(|r| {
                    (0..r.len())
                        .max_by(|&a, &b| r[a].total_cmp(&r[b]))
                        .unwrap_or(0) as u32
                })
                .collect();
            let t = Instant::now();
            logits = bound.step(&mut state, &next)?;
            times.push(t.elapsed().as_secs_f64());
        }
        println!(
            "decode step, {n} hypothes{}: {} ms (median / min)",
            if n == 1 { "is" } else { "es" },
            median_ms(times)
        );
    }
    Ok(())
}
