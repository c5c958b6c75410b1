//! Benchmark of synthetic data generation (`recap::synth::generate`).

use criterion::{BenchmarkId, Criterion, Throughput};
use recap::synth::{generate, SynthConfig};

/// `generate` at 1k and 10k images × 5 captions × 512 dims.
pub fn synth_generate(c: &mut Criterion) {
    let mut group = c.benchmark_group("synth_generate");
    group.sample_size(10);
    for n_images in [1_000usize, 10_000] {
        let cfg = SynthConfig {
            n_images,
            ..SynthConfig::default()
        };
        group.throughput(Throughput::Elements(
            (n_images * cfg.captions_per_image) as u64,
        ));
        group.bench_with_input(
            BenchmarkId::new("images_x5_d512", n_images),
            &cfg,
            |b, cfg| b.iter(|| generate(cfg).unwrap()),
        );
    }
    group.finish();
}
