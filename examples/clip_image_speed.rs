//! Images/s of CLIP's image tower (model only: pixels -> projected, normalized embeddings),
//! to compare with `benches/models/clip_image_tower_transformers.py` in the same sitting.
//!
//! ```text
//! cargo run --release --features models --example clip_image_speed -- /tmp/clip-b32-random 32 3
//! ```
//! Arguments: model directory, batch (32), timed iterations (3). Threads: `RAYON_NUM_THREADS`.

use std::time::Instant;

use recap::models::clip::Clip;
use recap::models::resolve;

fn main() -> recap::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let model = args.get(1).map_or("/tmp/clip-b32-random", String::as_str);
    let batch: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(32);
    let iters: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(3);
    let clip = Clip::load(&resolve(model)?)?.with_batch_size(batch);
    let s = clip.config.vision_config.image_size;
    // Deterministic pseudo-random pixels in [-2, 2).
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let pixels: Vec<f32> = (0..batch * 3 * s * s)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 24) as f32 * 4.0 - 2.0
        })
        .collect();
    clip.embed_pixels(&pixels, batch)?; // warm-up
    let t = Instant::now();
    for _ in 0..iters {
        clip.embed_pixels(&pixels, batch)?;
    }
    let dt = t.elapsed().as_secs_f64();
    println!(
        "{{\"impl\": \"recap\", \"threads\": {}, \"batch\": {batch}, \"iters\": {iters}, \"images_per_s\": {:.2}}}",
        rayon::current_num_threads(),
        (batch * iters) as f64 / dt
    );
    Ok(())
}
