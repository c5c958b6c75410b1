//! Synthetic *image files* with captions and human-style ratings: the inputs the captioning
//! pipelines and the paper-repro miniatures need when no data may be downloaded.
//!
//! Image `i` (`S x S` RGB PNG, `i.png`) shows one shape (square, circle, triangle, bar) of one
//! colour (red, green, blue, yellow, white, black) and size (small, large) at one place (left,
//! centre, right) on a background of another colour, with mild per-pixel noise. Its
//! references are 5 captions realized from templates that name the content ("a large red
//! circle on a blue background", ...). Its judged candidates, Flickr8k-Expert style, worded
//! unlike any reference ("the circle is large and red against blue"), are the correct
//! description (rating 4), the description with one attribute wrong (2) and a description of
//! other content (1).
//!
//! [`write_shapes`] writes, for a `train/` and a `test/` split: `images/`, `captions.json`
//! (COCO captions: `images` with `file_name`, `annotations`), `references.json` (clipscore's
//! `{"image id": [refs]}`), and for the test split `judgments.json` (clipscore's
//! `flickr8k.json` layout: `{id: {"image_path", "ground_truth", "human_judgement"}}`).
//! Everything is a function of the seed: the same options write byte-identical files.

use std::path::Path;

use serde_json::{json, Map, Value};

use super::rng::Rng;
use crate::io::atomic::{write_bytes_atomic, write_json_atomic};
use crate::{Error, Result};

const SHAPES: [&str; 4] = ["square", "circle", "triangle", "bar"];
const COLOURS: [(&str, [u8; 3]); 6] = [
    ("red", [220, 40, 40]),
    ("green", [40, 180, 60]),
    ("blue", [40, 70, 220]),
    ("yellow", [235, 220, 50]),
    ("white", [245, 245, 245]),
    ("black", [15, 15, 15]),
];
const SIZES: [&str; 2] = ["small", "large"];
const PLACES: [&str; 3] = ["left", "centre", "right"];

/// The content of one image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShapeContent {
    /// Index into the shapes.
    pub shape: usize,
    /// Index into the colours (the shape's).
    pub colour: usize,
    /// Index into the colours (the background's; never the shape's).
    pub background: usize,
    /// 0 small, 1 large.
    pub size: usize,
    /// 0 left, 1 centre, 2 right.
    pub place: usize,
}

impl ShapeContent {
    fn sample(rng: &mut Rng) -> Self {
        let colour = rng.below(COLOURS.len());
        let background = (colour + 1 + rng.below(COLOURS.len() - 1)) % COLOURS.len();
        ShapeContent {
            shape: rng.below(SHAPES.len()),
            colour,
            background,
            size: rng.below(SIZES.len()),
            place: rng.below(PLACES.len()),
        }
    }

    /// The five reference captions.
    pub fn captions(&self) -> Vec<String> {
        let (s, c, b) = (
            SHAPES[self.shape],
            COLOURS[self.colour].0,
            COLOURS[self.background].0,
        );
        let (z, p) = (SIZES[self.size], PLACES[self.place]);
        vec![
            format!("a {z} {c} {s} on a {b} background"),
            format!("a {c} {s} at the {p} of the picture"),
            format!("a picture of a {z} {s} in {c}"),
            format!("there is a {c} {s} on {b}"),
            format!("a {b} image with a {z} {c} {s} on the {p}"),
        ]
    }

    /// The content with one attribute (chosen by `which`) changed.
    fn perturbed(&self, which: usize) -> Self {
        let mut o = *self;
        match which % 3 {
            0 => o.shape = (o.shape + 1) % SHAPES.len(),
            1 => {
                o.colour = (o.colour + 1) % COLOURS.len();
                if o.colour == o.background {
                    o.colour = (o.colour + 1) % COLOURS.len();
                }
            }
            _ => o.size = 1 - o.size,
        }
        o
    }

    /// The description used for judged candidates (a wording no reference uses).
    fn description(&self) -> String {
        format!(
            "the {} is {} and {} against {}",
            SHAPES[self.shape],
            SIZES[self.size],
            COLOURS[self.colour].0,
            COLOURS[self.background].0
        )
    }

    fn contains(&self, size: f64, x: f64, y: f64) -> bool {
        let r = if self.size == 0 { 0.18 } else { 0.32 } * size;
        let cx = (0.25 + 0.25 * self.place as f64) * size;
        let (dx, dy) = (x - cx, y - size / 2.0);
        match self.shape {
            0 => dx.abs() <= r && dy.abs() <= r,
            1 => dx * dx + dy * dy <= r * r,
            2 => dy <= r && dy >= -r && dx.abs() <= (dy + r) / 2.0,
            _ => dx.abs() <= r && dy.abs() <= r / 3.0,
        }
    }

    /// Render an `size x size` RGB image (row-major, 3 bytes per pixel), noise from `rng`.
    pub fn render(&self, size: usize, rng: &mut Rng) -> Vec<u8> {
        let mut px = Vec::with_capacity(size * size * 3);
        for y in 0..size {
            for x in 0..size {
                let inside = self.contains(size as f64, x as f64 + 0.5, y as f64 + 0.5);
                let base = COLOURS[if inside { self.colour } else { self.background }].1;
                for ch in base {
                    let noisy = ch as f64 + 12.0 * (rng.uniform() - 0.5);
                    px.push(noisy.round().clamp(0.0, 255.0) as u8);
                }
            }
        }
        px
    }
}

/// Options of [`write_shapes`].
#[derive(Debug, Clone, PartialEq)]
pub struct ShapesConfig {
    /// Training images (their captions form the datastore, their pairs fit W).
    pub n_train: usize,
    /// Test images (captioned and scored).
    pub n_test: usize,
    /// Side of the square images in pixels.
    pub image_size: usize,
    /// Seed.
    pub seed: u64,
}

impl Default for ShapesConfig {
    fn default() -> Self {
        ShapesConfig {
            n_train: 200,
            n_test: 20,
            image_size: 64,
            seed: 0,
        }
    }
}

/// Write the two splits under `dir` (see the module docs). Image ids are `0..n_train` for
/// train and `n_train..n_train + n_test` for test (the file stems).
pub fn write_shapes(dir: &Path, cfg: &ShapesConfig) -> Result<()> {
    if cfg.n_train == 0 || cfg.n_test == 0 || !(8..=1024).contains(&cfg.image_size) {
        return Err(Error::invalid(
            "shapes",
            "need n_train >= 1, n_test >= 1 and 8 <= image_size <= 1024",
        ));
    }
    write_split(&dir.join("train"), 0, cfg.n_train, cfg, false)?;
    write_split(&dir.join("test"), cfg.n_train, cfg.n_test, cfg, true)
}

fn write_split(dir: &Path, first: usize, n: usize, cfg: &ShapesConfig, judged: bool) -> Result<()> {
    let images_dir = dir.join("images");
    std::fs::create_dir_all(&images_dir).map_err(|e| Error::io(&images_dir, e))?;
    let (mut images, mut annotations) = (Vec::new(), Vec::new());
    let (mut references, mut judgments) = (Map::new(), Map::new());
    for id in first..first + n {
        let mut rng = Rng::stream(cfg.seed, 0x5a4e, id as u64);
        let content = ShapeContent::sample(&mut rng);
        let file = format!("{id}.png");
        write_png(
            &images_dir.join(&file),
            &content.render(cfg.image_size, &mut rng),
            cfg.image_size,
        )?;
        let caps = content.captions();
        for (j, c) in caps.iter().enumerate() {
            annotations.push(json!({"id": id * 5 + j, "image_id": id, "caption": c}));
        }
        images.push(json!({"id": id, "file_name": file}));
        references.insert(id.to_string(), json!(caps));
        if judged {
            judgments.insert(id.to_string(), judgment(&content, &caps, &file, &mut rng));
        }
    }
    write_json_atomic(
        dir.join("captions.json"),
        &json!({"images": images, "annotations": annotations}),
    )?;
    write_json_atomic(dir.join("references.json"), &Value::Object(references))?;
    if judged {
        write_json_atomic(dir.join("judgments.json"), &Value::Object(judgments))?;
    }
    Ok(())
}

/// Three judged candidates: correct (4), one attribute wrong (2), other content (1).
fn judgment(content: &ShapeContent, refs: &[String], file: &str, rng: &mut Rng) -> Value {
    let wrong = content.perturbed(rng.below(3));
    let other = content.perturbed(0).perturbed(1).perturbed(2);
    json!({
        "image_path": format!("images/{file}"),
        "ground_truth": refs,
        "human_judgement": [
            {"caption": content.description(), "rating": 4.0},
            {"caption": wrong.description(), "rating": 2.0},
            {"caption": other.description(), "rating": 1.0},
        ]
    })
}

fn write_png(path: &Path, rgb: &[u8], size: usize) -> Result<()> {
    let img = image::RgbImage::from_raw(size as u32, size as u32, rgb.to_vec())
        .ok_or_else(|| Error::invalid("image", "pixel buffer does not match its size"))?;
    let mut bytes = Vec::new();
    img.write_to(
        &mut std::io::Cursor::new(&mut bytes),
        image::ImageFormat::Png,
    )
    .map_err(|e| Error::invalid("png", e.to_string()))?;
    write_bytes_atomic(path, &bytes)
}
