//! Which caption rows belong to which image row.
//!
//! COCO-style data has one image embedding per image and several captions per image. A
//! [`Grouping`] records, for every caption row (a row of the text-embedding file), the image
//! row it describes. It drives pair-grouped alignment fits (every (image, caption) pair
//! without repeating image rows), self-exclusion in retrieval (skip the query image's own
//! captions) and recall@k (a hit is any caption of the image).

use crate::error::{Error, Result};

/// Caption row → image row, with the inverse (image row → its caption rows) in CSR form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grouping {
    image_of_caption: Vec<usize>,
    /// `offsets[i]..offsets[i+1]` indexes `captions_by_image` for image `i`.
    offsets: Vec<usize>,
    /// Caption rows sorted by image (stable: caption-row order within an image).
    captions_by_image: Vec<usize>,
}

impl Grouping {
    /// Read a grouping file for `n_images` image rows: the crate's caption sidecar
    /// (`{"images", "captions"}`), a COCO annotations / Karpathy file, a JSON list giving
    /// each caption row's image row, `{"image_of_caption": [...]}` or `{"counts": [...]}`
    /// (one count per image row: exactly `n_images` of them). A counts file describes its
    /// caption rows compactly: the grouping takes about 16 bytes per caption row it names.
    pub fn read(path: &std::path::Path, n_images: usize) -> Result<Grouping> {
        let text = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let v: serde_json::Value = serde_json::from_slice(&text).map_err(|e| Error::Json {
            path: path.into(),
            source: e,
        })?;
        let list = |v: &serde_json::Value, what: &str| -> Result<Vec<usize>> {
            v.as_array()
                .ok_or_else(|| {
                    Error::format(path, format!("{what} must be a list of row indices"))
                })?
                .iter()
                .enumerate()
                .map(|(i, e)| {
                    e.as_u64().map(|u| u as usize).ok_or_else(|| {
                        Error::format(path, format!("{what}[{i}] is not a non-negative integer"))
                    })
                })
                .collect()
        };
        if v.is_array() {
            return Grouping::new(list(&v, "grouping")?, n_images);
        }
        if let Some(l) = v.get("image_of_caption") {
            return Grouping::new(list(l, "image_of_caption")?, n_images);
        }
        if let Some(c) = v.get("counts") {
            let counts = list(c, "counts")?;
            if counts.len() != n_images {
                return Err(Error::shape(
                    format!("{} counts vs image rows", path.display()),
                    format!("{n_images} images"),
                    format!("{} counts", counts.len()),
                ));
            }
            if counts
                .iter()
                .try_fold(0usize, |t, &c| t.checked_add(c))
                .is_none()
            {
                return Err(Error::format(
                    path,
                    "counts add up to more than 2^64 caption rows",
                ));
            }
            return Ok(Grouping::from_counts(&counts));
        }
        if v.get("images").is_some() || v.get("annotations").is_some() {
            let set = crate::io::captions::CaptionSet::read_auto(path)?;
            let g = set.grouping()?;
            if g.n_images() != n_images {
                return Err(Error::shape(
                    format!("{} images vs image rows", path.display()),
                    format!("{n_images} images"),
                    format!("{} images", g.n_images()),
                ));
            }
            return Ok(g);
        }
        Err(Error::format(
            path,
            "expected a caption sidecar, a list of image rows, {\"image_of_caption\": [...]} or {\"counts\": [...]}",
        ))
    }

    /// Build from the image row of every caption row. Every entry must be `< n_images`.
    /// Images without captions are allowed (they pair with nothing).
    pub fn new(image_of_caption: Vec<usize>, n_images: usize) -> Result<Self> {
        let mut counts = vec![0usize; n_images];
        for (c, &img) in image_of_caption.iter().enumerate() {
            if img >= n_images {
                return Err(Error::IndexOutOfRange {
                    what: format!("image row of caption row {c}"),
                    index: img,
                    len: n_images,
                });
            }
            counts[img] += 1;
        }
        let mut offsets = Vec::with_capacity(n_images + 1);
        offsets.push(0);
        for c in &counts {
            offsets.push(offsets.last().unwrap() + c);
        }
        let mut next = offsets[..n_images].to_vec();
        let mut captions_by_image = vec![0usize; image_of_caption.len()];
        for (c, &img) in image_of_caption.iter().enumerate() {
            captions_by_image[next[img]] = c;
            next[img] += 1;
        }
        Ok(Grouping {
            image_of_caption,
            offsets,
            captions_by_image,
        })
    }

    /// `counts[i]` consecutive caption rows per image, in image order (caption rows
    /// `0..counts[0]` describe image 0, and so on).
    pub fn from_counts(counts: &[usize]) -> Self {
        let image_of_caption = counts
            .iter()
            .enumerate()
            .flat_map(|(i, &c)| std::iter::repeat_n(i, c))
            .collect();
        Grouping::new(image_of_caption, counts.len()).expect("indices in range by construction")
    }

    /// The plain pairing: caption row `i` describes image row `i`.
    pub fn identity(n: usize) -> Self {
        Grouping::from_counts(&vec![1; n])
    }

    /// Number of image rows.
    pub fn n_images(&self) -> usize {
        self.offsets.len() - 1
    }

    /// Number of caption rows.
    pub fn n_captions(&self) -> usize {
        self.image_of_caption.len()
    }

    /// The image row that caption row `caption` describes.
    pub fn image_of(&self, caption: usize) -> usize {
        self.image_of_caption[caption]
    }

    /// The image row of every caption row.
    pub fn image_of_caption(&self) -> &[usize] {
        &self.image_of_caption
    }

    /// The caption rows of image row `image`, in ascending order.
    pub fn captions_of(&self, image: usize) -> &[usize] {
        &self.captions_by_image[self.offsets[image]..self.offsets[image + 1]]
    }

    /// Whether caption rows come in image order (`image_of` never decreases): then the
    /// captions of any run of images are one contiguous run of caption rows.
    pub fn captions_in_image_order(&self) -> bool {
        self.image_of_caption.windows(2).all(|w| w[0] <= w[1])
    }

    /// The caption rows of image rows `images` (image by image, each ascending).
    pub fn captions_of_images(&self, images: std::ops::Range<usize>) -> &[usize] {
        &self.captions_by_image[self.offsets[images.start]..self.offsets[images.end]]
    }

    /// Number of captions of every image row.
    pub fn counts(&self) -> Vec<usize> {
        self.offsets.windows(2).map(|w| w[1] - w[0]).collect()
    }

    /// Check that this grouping fits `n_images` image rows and `n_captions` caption rows.
    pub fn check_rows(&self, n_images: usize, n_captions: usize) -> Result<()> {
        if self.n_images() != n_images || self.n_captions() != n_captions {
            return Err(Error::shape(
                "grouping vs embedding rows",
                format!("{} images, {} captions", self.n_images(), self.n_captions()),
                format!("{n_images} image rows, {n_captions} caption rows"),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inverse_is_consistent() {
        let g = Grouping::new(vec![1, 0, 1, 2, 1], 4).unwrap();
        assert_eq!(g.captions_of(0), &[1]);
        assert_eq!(g.captions_of(1), &[0, 2, 4]);
        assert_eq!(g.captions_of(3), &[] as &[usize]);
        assert_eq!(g.counts(), vec![1, 3, 1, 0]);
    }

    #[test]
    fn out_of_range_image_is_error() {
        assert!(matches!(
            Grouping::new(vec![0, 5], 2),
            Err(Error::IndexOutOfRange { index: 5, .. })
        ));
    }
}
