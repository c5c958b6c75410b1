//! The AMX int8 screening kernel (Sapphire / Emerald Rapids and later): a `32 x 32` tile of
//! int8 dot products per call with `tdpbusd`.
//!
//! Tiles: `tmm0`, `tmm1` = 16 queries x 64 unsigned bytes each (16 groups of 4 columns,
//! `q̂ + 128`, row-major query words), `tmm2`, `tmm3` = 16 groups x 16 datastore rows x 4
//! signed bytes — exactly the layout of a [`NR`]-row panel of the quantized copy read with a
//! stride of `NR·4` bytes (rows 0–15 and 16–31) — and `tmm4`–`tmm7` the four `16 x 16` i32
//! accumulators. `tdpbusd` adds, per output, the four `u8 x s8` products of each group to the
//! i32 accumulator, like `vpdpbusd`: the same exact integers as
//! [`super::portable::kernel_int8`] (see [`super::bound`], step 3).
//!
//! Used when the CPU reports AMX-TILE and AMX-INT8, Linux grants the tile data state
//! (`arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA)`), the number of groups is a multiple
//! of 16 (`d` a multiple of 64) and `RECAP_NO_AMX` is not set (to compare with the VNNI
//! kernel).

use super::NR;

/// Queries per AMX tile call (two 16-row A tiles).
pub const M: usize = 32;
/// Groups of 4 columns per `tdpbusd` step (64 bytes per tile row).
pub const K_GROUPS: usize = 16;

/// Whether the AMX kernel can run here (see the module docs), for `groups` column groups.
pub fn usable(groups: usize) -> bool {
    groups > 0 && groups.is_multiple_of(K_GROUPS) && available()
}

/// Whether the CPU and the OS allow AMX int8 in this process (checked once).
pub fn available() -> bool {
    static OK: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *OK.get_or_init(|| std::env::var_os("RECAP_NO_AMX").is_none() && detect())
}

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
fn detect() -> bool {
    use std::arch::x86_64::__cpuid_count;
    // CPUID.(EAX=7, ECX=0):EDX bit 24 AMX-TILE, bit 25 AMX-INT8.
    let leaf7 = __cpuid_count(7, 0);
    if leaf7.edx & (1 << 24) == 0 || leaf7.edx & (1 << 25) == 0 {
        return false;
    }
    if !super::vnni::available() {
        return false;
    }
    const ARCH_GET_XCOMP_PERM: libc::c_long = 0x1022;
    const ARCH_REQ_XCOMP_PERM: libc::c_long = 0x1023;
    const XFEATURE_XTILEDATA: libc::c_long = 18;
    // SAFETY: arch_prctl with these codes only reads/writes the u64 we pass.
    unsafe {
        if libc::syscall(
            libc::SYS_arch_prctl,
            ARCH_REQ_XCOMP_PERM,
            XFEATURE_XTILEDATA,
        ) != 0
        {
            return false;
        }
        let mut mask: u64 = 0;
        if libc::syscall(
            libc::SYS_arch_prctl,
            ARCH_GET_XCOMP_PERM,
            &mut mask as *mut u64,
        ) != 0
        {
            return false;
        }
        mask & (1 << XFEATURE_XTILEDATA) != 0
    }
}

#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
fn detect() -> bool {
    false
}

/// The tile configuration (palette 1): eight tiles of 16 rows x 64 bytes.
#[repr(C, align(64))]
struct TileConfig {
    palette: u8,
    start_row: u8,
    reserved: [u8; 14],
    colsb: [u16; 16],
    rows: [u8; 16],
}

/// An AMX session on this thread: loads the tile configuration, releases the tiles when
/// dropped. Only [`Session::tile`] runs AMX instructions.
pub struct Session(());

impl Session {
    /// Configure the tiles, or `None` when AMX is not [`usable`] for `groups`.
    pub fn start(groups: usize) -> Option<Session> {
        if !usable(groups) {
            return None;
        }
        let mut cfg = TileConfig {
            palette: 1,
            start_row: 0,
            reserved: [0; 14],
            colsb: [0; 16],
            rows: [0; 16],
        };
        for t in 0..8 {
            cfg.colsb[t] = 64;
            cfg.rows[t] = 16;
        }
        #[cfg(target_arch = "x86_64")]
        // SAFETY: AMX is available and permitted (checked by `usable`); `cfg` is a valid
        // 64-byte palette-1 configuration.
        unsafe {
            std::arch::asm!("ldtilecfg [{}]", in(reg) &cfg as *const TileConfig, options(nostack));
        }
        Some(Session(()))
    }

    /// `c[r·NR + j] = Σ_g Σ_t a_byte(r, g, t) · b_byte(g, j, t)` for `r < M`, `j < NR`: `a` is
    /// `M` query rows of `groups` words (row-major, unsigned bytes), `b` one row panel
    /// (`[group][NR]` words, signed bytes), `c` `M x NR` i32.
    pub fn tile(&self, groups: usize, a: &[u32], b: &[u32], c: &mut [i32]) {
        assert!(groups.is_multiple_of(K_GROUPS) && groups > 0);
        assert!(a.len() >= M * groups && b.len() >= groups * NR && c.len() >= M * NR);
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the session configured eight 16 x 64-byte tiles; every tile load reads 16
        // rows of 64 bytes inside `a` (rows r·groups·4 + g0·4 .. +64, r < 32) or `b`
        // (group rows g0..g0+16, 128 bytes each), every store writes 16 rows of 64 bytes
        // inside `c` (asserted lengths).
        unsafe {
            let sa = groups * 4;
            let a0 = a.as_ptr() as *const u8;
            let a1 = a0.add(16 * sa);
            let b0 = b.as_ptr() as *const u8;
            let c0 = c.as_mut_ptr() as *mut u8;
            let c1 = c0.add(16 * NR * 4);
            std::arch::asm!(
                "tilezero tmm4",
                "tilezero tmm5",
                "tilezero tmm6",
                "tilezero tmm7",
                "2:",
                "tileloadd tmm0, [{a0} + {sa}*1]",
                "tileloadd tmm1, [{a1} + {sa}*1]",
                "tileloadd tmm2, [{b0} + {sb}*1]",
                "tileloadd tmm3, [{b0} + {sb}*1 + 64]",
                "tdpbusd tmm4, tmm0, tmm2",
                "tdpbusd tmm5, tmm0, tmm3",
                "tdpbusd tmm6, tmm1, tmm2",
                "tdpbusd tmm7, tmm1, tmm3",
                "add {a0}, 64",
                "add {a1}, 64",
                "add {b0}, {bstep}",
                "dec {n}",
                "jnz 2b",
                "tilestored [{c0} + {sb}*1], tmm4",
                "tilestored [{c0} + {sb}*1 + 64], tmm5",
                "tilestored [{c1} + {sb}*1], tmm6",
                "tilestored [{c1} + {sb}*1 + 64], tmm7",
                a0 = inout(reg) a0 => _,
                a1 = inout(reg) a1 => _,
                b0 = inout(reg) b0 => _,
                n = inout(reg) groups / K_GROUPS => _,
                sa = in(reg) sa,
                sb = in(reg) NR * 4,
                bstep = in(reg) K_GROUPS * NR * 4,
                c0 = in(reg) c0,
                c1 = in(reg) c1,
                options(nostack),
            );
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: releases the tile state configured by `start`.
        unsafe {
            std::arch::asm!("tilerelease", options(nostack, nomem));
        }
    }
}

/// The scalar reference of [`Session::tile`] (row-major query words).
pub fn tile_reference(groups: usize, a: &[u32], b: &[u32], c: &mut [i32]) {
    for r in 0..M {
        for j in 0..NR {
            let mut s = 0i32;
            for g in 0..groups {
                let (aw, bw) = (a[r * groups + g].to_le_bytes(), b[g * NR + j].to_le_bytes());
                for (&x, &y) in aw.iter().zip(&bw) {
                    s = s.wrapping_add(x as i32 * y as i8 as i32);
                }
            }
            c[r * NR + j] = s;
        }
    }
}

/// The machine's AMX int8 peak in GOP/s (2 operations per multiply-add) on the current rayon
/// pool: every thread runs `tdpbusd` into four independent accumulator tiles for `iters`
/// steps. `None` without AMX.
pub fn peak_gops(iters: usize) -> Option<f64> {
    use rayon::prelude::*;
    if !available() {
        return None;
    }
    let threads = rayon::current_num_threads();
    let t = std::time::Instant::now();
    (0..threads).into_par_iter().for_each(|_| {
        let Some(_session) = Session::start(K_GROUPS) else {
            return;
        };
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the session configured the tiles; register-only tile arithmetic.
        unsafe {
            std::arch::asm!(
                "tilezero tmm0",
                "tilezero tmm1",
                "tilezero tmm2",
                "tilezero tmm3",
                "tilezero tmm4",
                "tilezero tmm5",
                "tilezero tmm6",
                "tilezero tmm7",
                "2:",
                "tdpbusd tmm4, tmm0, tmm2",
                "tdpbusd tmm5, tmm0, tmm3",
                "tdpbusd tmm6, tmm1, tmm2",
                "tdpbusd tmm7, tmm1, tmm3",
                "dec {n}",
                "jnz 2b",
                n = inout(reg) iters.max(1) => _,
                options(nostack, nomem),
            );
        }
    });
    let ops = 2.0 * (16 * 16 * 64 * 4) as f64 * iters.max(1) as f64 * threads as f64;
    Some(ops / t.elapsed().as_secs_f64() / 1e9)
}
