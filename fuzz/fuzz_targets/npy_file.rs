//! Fuzz whole-file `.npy` reads: header + data + every conversion (f16/f32/f64/i64, either
//! byte order, C/Fortran order), the streaming [`RowChunkReader`], the zero-copy
//! [`MappedF32`] and the [`NpyStream`] row source. Each input is a complete `.npy` file.
//!
//! Invariants on success: the matrix shape matches the header, f32/f64 reads agree
//! (f64 -> f32 rounds like `as`), streamed chunks concatenate to the whole read, and the
//! mapped view is the same data.
#![no_main]

mod common;

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

static PATH: OnceLock<PathBuf> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let path = common::write_input(&PATH, "npy_file", "npy", data);
    // Chunk size from the input length: 1..=5 rows.
    let chunk = 1 + data.len() % 5;
    common::check_npy(path, chunk, true);
});
