//! `npy_read`: reading embedding files from the page cache.
//!
//! Sizes: `RECAP_BENCH_NPY_MB` megabytes of f32 (default 256; the target is 1024:
//! within 2x of `cat file > /dev/null`). Baselines: `cat_like` reads the file into a reused
//! 1 MiB buffer (what `cat > /dev/null` does) and `std_fs_read` reads it into a fresh Vec.

use std::hint::black_box;
use std::io::Read;
use std::path::{Path, PathBuf};

use criterion::{BenchmarkId, Criterion, Throughput};
use recap::io::npy::{self, RowChunkReader};

const COLS: usize = 512;

fn bench_mb() -> usize {
    std::env::var("RECAP_BENCH_NPY_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

/// Write the benchmark files once (f32 and f16, C order) into a temp dir.
fn make_files(dir: &Path, mb: usize) -> (PathBuf, PathBuf) {
    let rows = mb * (1 << 20) / (COLS * 4);
    let data: Vec<f32> = (0..rows * COLS).map(|k| (k % 1000) as f32 * 1e-3).collect();
    let f32_path = dir.join("x_f32.npy");
    npy::write_f32(
        &f32_path,
        &recap::RowMatrix::from_vec(rows, COLS, data).unwrap(),
    )
    .unwrap();
    // f16 copy written by hand: header from numpy's layout with '<f2'.
    let f16_path = dir.join("x_f16.npy");
    let m = npy::read_f32(&f32_path).unwrap();
    let mut bytes = npy::npy_header("<f2", rows, COLS);
    bytes.extend(
        m.as_slice()
            .iter()
            .flat_map(|&v| half::f16::from_f32(v).to_le_bytes()),
    );
    std::fs::write(&f16_path, bytes).unwrap();
    (f32_path, f16_path)
}

fn cat_like(path: &Path) -> usize {
    let mut f = std::fs::File::open(path).unwrap();
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0;
    loop {
        let n = f.read(&mut buf).unwrap();
        if n == 0 {
            return total;
        }
        total += n;
    }
}

fn stream_sum(path: &Path, rows_per_chunk: usize) -> f32 {
    let mut r = RowChunkReader::open(path, rows_per_chunk).unwrap();
    let mut s = 0.0;
    while let Some(c) = r.next_chunk().unwrap() {
        s += c.data[0];
    }
    s
}

/// The `npy_read` group.
pub fn npy_read(c: &mut Criterion) {
    let mb = bench_mb();
    let dir = tempfile::tempdir().unwrap();
    let (f32_path, f16_path) = make_files(dir.path(), mb);
    let bytes = std::fs::metadata(&f32_path).unwrap().len();
    let mut g = c.benchmark_group("npy_read");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(bytes));
    g.bench_function(BenchmarkId::new("cat_like", mb), |b| {
        b.iter(|| black_box(cat_like(&f32_path)))
    });
    g.bench_function(BenchmarkId::new("std_fs_read", mb), |b| {
        b.iter(|| black_box(std::fs::read(&f32_path).unwrap().len()))
    });
    g.bench_function(BenchmarkId::new("read_f32_le", mb), |b| {
        b.iter(|| black_box(npy::read_f32(&f32_path).unwrap().rows()))
    });
    g.bench_function(BenchmarkId::new("stream_f32_le_16k_rows", mb), |b| {
        b.iter(|| black_box(stream_sum(&f32_path, 16384)))
    });
    g.throughput(Throughput::Bytes(bytes / 2));
    g.bench_function(BenchmarkId::new("read_f16_to_f32_mmap", mb), |b| {
        b.iter(|| black_box(npy::read_f32(&f16_path).unwrap().rows()))
    });
    g.finish();
}
