//! Fuzz the `.npy` header parser: any bytes must give a header or an `NpyProblem`, never a
//! panic, overflow or unbounded allocation; an accepted header must satisfy its invariants.
//!
//! The parser's source files are compiled in directly (they depend only on `std`), so the
//! fuzz build does not instrument recap's heavy dependencies.
#![no_main]
#![allow(dead_code)]

#[path = "../../src/io/npy/header.rs"]
mod header;
#[path = "../../src/io/npy/problem.rs"]
mod problem;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let total = data.len() as u64;
    match header::parse_header(data, total) {
        Ok(h) => {
            assert!(h.shape.len() == 1 || h.shape.len() == 2);
            assert!(h.data_offset <= total);
            // Checked at parse time: none of these may overflow.
            let bytes = h.data_len();
            assert_eq!(bytes, (h.rows() * h.cols() * h.dtype.itemsize()) as u64);
            let _ = header::check_data_len(&h, total - h.data_offset);
            let _ = h.shape_string();
        }
        Err(p) => {
            let _ = p.to_string();
        }
    }
    // A file longer than the bytes given: exercises the "header truncated" paths.
    let _ = header::parse_header(data, total.saturating_mul(3).saturating_add(1));
    // The dict parser on raw text.
    if let Err(p) = header::parse_dict(data, (1, 0), 0) {
        let _ = p.to_string();
    }
});
