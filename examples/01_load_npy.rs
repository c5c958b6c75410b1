//! Load an embedding file (`.npy` or `file.npz:member`), describe it, and stream it in chunks.
//!
//! `cargo run --release --example 01_load_npy -- images.npy`
//! (without an argument it writes and reads a small synthetic file).

use recap::io::npy::{self, RowChunkReader};
use recap::synth::{generate, SynthConfig};

fn main() -> recap::Result<()> {
    let path = match std::env::args().nth(1) {
        Some(p) => p,
        None => {
            let dir = std::env::temp_dir().join("recap-example-01");
            let data = generate(&SynthConfig::default())?;
            data.write(&dir)?;
            dir.join("images.npy").display().to_string()
        }
    };
    let header = npy::read_header(&path)?;
    println!("{path}: shape {:?}, {:?}", header.shape, header.dtype);
    // Whole file into a row-major f32 matrix.
    let x = npy::read_f32(&path)?;
    let norms = x.row_norms();
    let mean = norms.iter().sum::<f64>() / norms.len().max(1) as f64;
    println!(
        "{} rows x {} columns, mean row norm {mean:.4}",
        x.rows(),
        x.cols()
    );
    // The same rows, 256 at a time, in O(256 x d) memory.
    let mut reader = RowChunkReader::open(&path, 256)?;
    let mut seen = 0;
    while let Some(chunk) = reader.next_chunk()? {
        assert_eq!(
            chunk.data,
            &x.as_slice()[chunk.start_row * x.cols()..][..chunk.data.len()]
        );
        seen += chunk.rows;
    }
    println!("streamed {seen} rows in chunks of 256: identical to the whole read");
    Ok(())
}
