//! Support for the test suite (not part of the API): a check that cannot run on this machine
//! (no GPU, no AVX-512, no Java, ...) records itself here, so the suite's summary lists it as
//! skipped instead of letting it pass silently.
//!
//! `skip(reason)` prints `SKIPPED: reason` on stderr and, when `RECAP_SKIP_LOG` names a file
//! (`scripts/test.sh` sets it), appends the reason there; `scripts/test.sh` prints the
//! skipped checks after `cargo test`.

use std::io::Write;

/// Record that the calling check was skipped, and why.
pub fn skip(reason: &str) {
    eprintln!("SKIPPED: {reason}");
    let Some(path) = std::env::var_os("RECAP_SKIP_LOG") else {
        return;
    };
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path);
    if let Ok(mut f) = file {
        let _ = writeln!(f, "{reason}");
    }
}
