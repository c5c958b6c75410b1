//! `CLIPImageProcessor`'s pipeline (the Pillow backend, as OpenAI's CLIP): convert to RGB
//! (transparency composited onto white, as Pillow's `alpha_composite`), resize the short side
//! to `shortest_edge` with Pillow's BICUBIC (long side `trunc(size * long / short)`), centre
//! crop (`top = (h - ch) / 2` rounded down), then `((u8 * (1/255) as f32) - mean) / std` per
//! channel, laid out `3 x H x W`.
//!
//! Everything after decoding is bit-exact to Pillow (tests/models_clip.rs checks the uint8
//! crops at 224 against `CLIPImageProcessorPil`). Decoding is the `image` crate's: PNG is
//! lossless and identical; JPEG (zune-jpeg) differs from Pillow's libjpeg-turbo by up to 3
//! levels (mean 0.06–0.4 on the fixtures), which moves a tiny model's embedding by a cosine
//! of < 0.001. 16-bit images are reduced to 8 bits by the `image` crate (Pillow's
//! `I;16 -> RGB` differs); EXIF orientation is ignored, as `transformers` ignores it.

use std::path::Path;

use image::{DynamicImage, GenericImageView};

use super::config::PreprocessConfig;
use super::resample::resize_rgb8;
use crate::{Error, Result};

/// An 8-bit RGB image, packed `h x w x 3`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rgb8 {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// `height * width * 3` bytes, row-major, RGB interleaved.
    pub data: Vec<u8>,
}

/// Decode an image file (format from its content, not its name). An unreadable file or one
/// that is not a decodable image is an [`Error::Image`] naming it.
pub fn open_image(path: &Path) -> Result<DynamicImage> {
    let img_err = |problem: String| Error::Image {
        path: path.to_path_buf(),
        problem,
    };
    let reader = image::ImageReader::open(path)
        .map_err(|e| img_err(format!("cannot open: {e}")))?
        .with_guessed_format()
        .map_err(|e| img_err(format!("cannot read: {e}")))?;
    reader
        .decode()
        .map_err(|e| img_err(format!("cannot decode: {e}")))
}

/// Pillow's `convert("RGB")`, or for an image with an alpha channel
/// `alpha_composite(white, image.convert("RGBA")).convert("RGB")` in Pillow's integer
/// arithmetic: with `c1 = a * 128`, `c2 = 255 * 128 - c1`,
/// `out = div255(src * c1 + 255 * c2 + 128 * 128) >> 7`, `div255(t) = ((t >> 8) + t) >> 8`.
pub fn to_rgb(img: &DynamicImage) -> Rgb8 {
    let (w, h) = img.dimensions();
    let data = if img.color().has_alpha() {
        let rgba = img.to_rgba8();
        let mut out = Vec::with_capacity(w as usize * h as usize * 3);
        for px in rgba.pixels() {
            let a = u32::from(px[3]);
            for c in 0..3 {
                out.push(composite_on_white(u32::from(px[c]), a));
            }
        }
        out
    } else {
        img.to_rgb8().into_raw()
    };
    Rgb8 {
        width: w as usize,
        height: h as usize,
        data,
    }
}

fn composite_on_white(src: u32, alpha: u32) -> u8 {
    const PRECISION: u32 = 7;
    if alpha == 0 {
        return 255;
    }
    // Pillow's AlphaComposite.c with an opaque white destination (outa255 = 255 * 255).
    let coef1 = alpha * 255 * 255 * (1 << PRECISION) / (255 * 255);
    let coef2 = 255 * (1 << PRECISION) - coef1;
    let t = src * coef1 + 255 * coef2 + (0x80 << PRECISION);
    let div255 = ((t >> 8) + t) >> 8;
    (div255 >> PRECISION) as u8
}

/// The size after resizing the short side to `short`: `(width, height)`, the long side
/// `trunc(short * long / short_in)` as `transformers`' `get_resize_output_image_size`.
pub fn resized_size(width: usize, height: usize, short: usize) -> (usize, usize) {
    let scaled = |long: usize, s: usize| ((short * long) as f64 / s as f64) as usize;
    if width <= height {
        (short, scaled(height, width))
    } else {
        (scaled(width, height), short)
    }
}

/// Resize (Pillow BICUBIC) and centre-crop to the uint8 image the model sees.
pub fn resize_and_crop(img: &Rgb8, cfg: &PreprocessConfig) -> Result<Rgb8> {
    if img.width == 0 || img.height == 0 {
        return Err(Error::invalid("image", "image has zero width or height"));
    }
    let (rw, rh) = resized_size(img.width, img.height, cfg.shortest_edge);
    let resized = resize_rgb8(&img.data, img.width, img.height, rw, rh);
    let (ch, cw) = cfg.crop;
    if rh < ch || rw < cw {
        return Err(Error::invalid(
            "image",
            format!("resized image {rw}x{rh} is smaller than the {cw}x{ch} crop"),
        ));
    }
    let top = (rh - ch) / 2;
    let left = (rw - cw) / 2;
    let mut data = Vec::with_capacity(ch * cw * 3);
    for y in top..top + ch {
        data.extend_from_slice(&resized[(y * rw + left) * 3..(y * rw + left + cw) * 3]);
    }
    Ok(Rgb8 {
        width: cw,
        height: ch,
        data,
    })
}

/// Rescale and normalize a cropped image into `3 x H x W` floats:
/// `((u as f64 * (1/255)) as f32 - mean[c]) / std[c]` (f32 arithmetic, as numpy does it).
pub fn normalize(img: &Rgb8, cfg: &PreprocessConfig) -> Vec<f32> {
    let plane = img.width * img.height;
    let mut out = vec![0f32; 3 * plane];
    for (i, px) in img.data.chunks_exact(3).enumerate() {
        for c in 0..3 {
            let x = (f64::from(px[c]) * (1.0 / 255.0)) as f32;
            out[c * plane + i] = (x - cfg.mean[c]) / cfg.std[c];
        }
    }
    out
}

/// The whole pipeline for one decoded image: `3 x crop_h x crop_w` floats.
pub fn pixel_values(img: &DynamicImage, cfg: &PreprocessConfig) -> Result<Vec<f32>> {
    let rgb = to_rgb(img);
    Ok(normalize(&resize_and_crop(&rgb, cfg)?, cfg))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_side_rules() {
        assert_eq!(resized_size(37, 23, 224), (360, 224));
        assert_eq!(resized_size(23, 37, 224), (224, 360));
        assert_eq!(resized_size(50, 50, 224), (224, 224));
    }

    #[test]
    fn composite_extremes() {
        assert_eq!(composite_on_white(10, 255), 10);
        assert_eq!(composite_on_white(10, 0), 255);
        assert_eq!(composite_on_white(0, 128), 127);
    }
}
