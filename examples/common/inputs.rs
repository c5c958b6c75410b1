//! The inputs the pipeline examples share: models and a train/test image set in the layout
//! `recap synth-images` writes (`DATA/{train,test}/images/ID.png` + `captions.json` in COCO
//! format; `paper-repro/karpathy_split.py` writes the same layout for COCO and Flickr30k).
//!
//! Flags: `--data DIR`, `--clip MODEL`, `--lm MODEL` (FLAN-T5), `--smallcap MODEL`,
//! `--tokenizer MODEL` (GPT-2's, for SmallCap checkpoints without one). Every flag left out is
//! filled with something made on the spot in a temporary folder: the tiny random models of
//! `recap make-tiny-models` and 60 + 6 shape images: no download, meaningless captions.

// Each example uses a part of the inputs.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use recap::align::{Criterion, Estimator, LinearMap, Ridge};
use recap::io::captions::CaptionSet;
use recap::models::clip::Clip;
use recap::retrieve::{Datastore, Storage};
use recap::RowMatrix;

/// Models and data of one run.
pub struct Inputs {
    pub clip: String,
    pub lm: String,
    pub smallcap: String,
    pub tokenizer: Option<String>,
    pub data: PathBuf,
    _tmp: tempfile::TempDir,
}

impl Inputs {
    /// Parse the flags; make what is missing.
    pub fn from_args() -> recap::Result<Self> {
        let args: Vec<String> = std::env::args().skip(1).collect();
        let flag = |name: &str| {
            args.iter()
                .position(|a| a == name)
                .and_then(|i| args.get(i + 1).cloned())
        };
        let tmp = tempfile::tempdir().map_err(|e| recap::Error::io(Path::new("tempdir"), e))?;
        let made = |what: &str| tmp.path().join(what).display().to_string();
        if flag("--clip").is_none() {
            recap::models::clip::tiny::write_tiny_clip(&tmp.path().join("clip"), 0)?;
        }
        if flag("--lm").is_none() {
            recap::models::t5::tiny::write_tiny_t5(&tmp.path().join("t5"), 0)?;
        }
        if flag("--smallcap").is_none() {
            recap::models::smallcap::tiny::write_tiny_smallcap(&tmp.path().join("smallcap"), 0)?;
        }
        let data = match flag("--data") {
            Some(d) => PathBuf::from(d),
            None => {
                let cfg = recap::synth::shapes::ShapesConfig {
                    n_train: 60,
                    n_test: 6,
                    image_size: 32,
                    seed: 0,
                };
                recap::synth::shapes::write_shapes(&tmp.path().join("data"), &cfg)?;
                tmp.path().join("data")
            }
        };
        Ok(Inputs {
            clip: flag("--clip").unwrap_or_else(|| made("clip")),
            lm: flag("--lm").unwrap_or_else(|| made("t5")),
            smallcap: flag("--smallcap").unwrap_or_else(|| made("smallcap")),
            tokenizer: flag("--tokenizer"),
            data,
            _tmp: tmp,
        })
    }

    /// A split's captions (`train` or `test`).
    pub fn captions(&self, split: &str) -> recap::Result<CaptionSet> {
        CaptionSet::read_auto(self.data.join(split).join("captions.json"))
    }

    /// The image files of a split in the order of its captions file's images (file stem =
    /// image id).
    pub fn image_paths(&self, split: &str, set: &CaptionSet) -> recap::Result<Vec<PathBuf>> {
        let dir = self.data.join(split).join("images");
        let mut by_stem = std::collections::HashMap::new();
        for entry in std::fs::read_dir(&dir).map_err(|e| recap::Error::io(&dir, e))? {
            let path = entry.map_err(|e| recap::Error::io(&dir, e))?.path();
            if let Some(stem) = path.file_stem() {
                by_stem.insert(stem.to_string_lossy().into_owned(), path.clone());
            }
        }
        set.images()
            .iter()
            .map(|id| {
                by_stem.get(id).cloned().ok_or_else(|| {
                    recap::Error::invalid("images", format!("no image file for id {id} in {dir:?}"))
                })
            })
            .collect()
    }

    /// ReCap's alignment and datastore from the training split: CLIP embeddings of its images
    /// and captions, W fitted in closed form (ridge, λ chosen by GCV over a grid, every caption
    /// paired with its image), and the captions as a cosine datastore with their records.
    pub fn fit_map(&self, clip: &Clip) -> recap::Result<(LinearMap, Datastore)> {
        let train = self.captions("train")?;
        let images = clip.embed_image_files(&self.image_paths("train", &train)?)?;
        let texts = self.embed_captions(clip, &train)?;
        println!(
            "train: {} images, {} captions, CLIP width {}",
            images.rows(),
            texts.rows(),
            clip.dim()
        );
        let grid = [0.01, 0.1, 1.0, 10.0, 100.0, 1000.0];
        let fitted =
            Ridge::select(grid, Criterion::Gcv).fit_grouped(&images, &texts, &train.grouping()?)?;
        println!(
            "W: ridge, λ = {:?} by GCV, R² = {:.3}",
            fitted.lambda, fitted.report.r2
        );
        let datastore =
            Datastore::cosine(texts, Storage::F32)?.with_captions(train.captions().to_vec())?;
        Ok((LinearMap::Fitted(Box::new(fitted)), datastore))
    }

    /// The CLIP text embeddings of a caption set, in its caption order.
    pub fn embed_captions(&self, clip: &Clip, set: &CaptionSet) -> recap::Result<RowMatrix<f32>> {
        let texts: Vec<&str> = set.texts().collect();
        clip.embed_texts(&texts)
    }
}
