//! Fuzz `.npz` archives: the zip container (central directory, local headers, stored and
//! deflated members, CRCs, size claims) and a member read as an array through every
//! reader (`file.npz:member` specs, the bare single-member `file.npz`, streaming, mapping).
//! Each input is a complete `.npz` file.
//!
//! Every open re-parses the zip directory (zip 0.6 scans for it a byte at a time), so each
//! run reads one member, picked by the input length, through the readers of
//! `common::check_npy` (cross-checked when the member reads).
#![no_main]

mod common;

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use recap::io::npy;

static PATH: OnceLock<PathBuf> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let path = common::write_input(&PATH, "npz_member", "npz", data);
    let chunk = 1 + data.len() % 5;
    let members = match npy::npz_members(path) {
        Ok(m) => m,
        Err(_) => {
            // Not an archive: every reader must refuse it, member spec or not.
            assert!(npy::read_f32(path).is_err());
            assert!(npy::read_f32(format!("{}:x", path.display())).is_err());
            return;
        }
    };
    // Pick a member, or (one pick in n + 2) the bare path, or a member that is not there.
    let pick = (data.len() / 5) % (members.len() + 2);
    let absent = "\u{1}no such member";
    let spec = match members.get(pick) {
        Some(name) => PathBuf::from(format!("{}:{name}", path.display())),
        None if pick == members.len() => path.to_path_buf(),
        None => {
            if !members.iter().any(|m| m == absent) {
                let spec = PathBuf::from(format!("{}:{absent}", path.display()));
                assert!(npy::read_f32(&spec).is_err(), "read a member that is not there");
            }
            return;
        }
    };
    common::check_npy(&spec, chunk, false);
});
