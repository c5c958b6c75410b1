//! The caption sidecar: which image id and caption id each embedding row belongs to.
//!
//! An image-embedding file (`N x d`) and a text-embedding file (`M x d`) are plain matrices;
//! the sidecar says what their rows are. Its file format, `captions.json`:
//!
//! ```json
//! {
//!   "images": ["391895", "522418"],
//!   "captions": [
//!     {"id": "770337", "image_id": "391895", "text": "a man riding a bike"},
//!     {"id": "771687", "image_id": "391895", "text": "a person on a bicycle"},
//!     {"id": "681330", "image_id": "522418", "text": "a woman cutting a cake"}
//!   ]
//! }
//! ```
//!
//! - `images[r]` is the id of image-embedding row `r`;
//! - `captions[r]` describes text-embedding row `r`: its caption id, the id of the image it
//!   belongs to (which must appear in `images`) and its text.
//!
//! Ids are strings; integers are accepted on read and kept in decimal. Image ids and caption
//! ids must each be unique. [`CaptionSet::grouping`] turns the sidecar into the
//! [`Grouping`] (caption row → image row) used by grouped fits, self-exclusion and recall@k.
//!
//! Other ways to build a `CaptionSet`: [`CaptionSet::from_karpathy`] (rows in file order),
//! [`CaptionSet::from_coco_annotations`], [`CaptionSet::from_text_files`] and
//! [`CaptionSet::read_auto`], which recognizes any of these JSON files.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use serde::Serialize;
use serde_json::Value;

use super::karpathy::{karpathy_from_value, KarpathyImage};
use super::text::read_lines;
use super::{caption_string, id_string, read_json, References};
use crate::error::{Error, Result};
use crate::io::atomic::write_json_atomic;
use crate::io::Grouping;

/// One caption row: its id, the id of its image and its text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CaptionRecord {
    /// Caption id (unique within the set).
    pub id: String,
    /// Id of the image this caption describes.
    pub image_id: String,
    /// The caption.
    pub text: String,
}

/// Image ids in image-row order and caption records in caption-row order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CaptionSet {
    images: Vec<String>,
    captions: Vec<CaptionRecord>,
}

impl CaptionSet {
    /// Build from image ids (image-row order) and caption records (caption-row order).
    /// Fails with [`Error::InvalidArgument`] on a duplicated image id or caption id. Caption
    /// image ids are resolved by [`CaptionSet::grouping`].
    pub fn new(images: Vec<String>, captions: Vec<CaptionRecord>) -> Result<Self> {
        let set = CaptionSet { images, captions };
        set.duplicate_problem()
            .map_or(Ok(set), |p| Err(Error::invalid("caption set", p)))
    }

    /// Image ids, one per image-embedding row.
    pub fn images(&self) -> &[String] {
        &self.images
    }

    /// Caption records, one per text-embedding row.
    pub fn captions(&self) -> &[CaptionRecord] {
        &self.captions
    }

    /// Number of image rows.
    pub fn n_images(&self) -> usize {
        self.images.len()
    }

    /// Number of caption rows.
    pub fn n_captions(&self) -> usize {
        self.captions.len()
    }

    /// Caption texts in caption-row order.
    pub fn texts(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        self.captions.iter().map(|c| c.text.as_str())
    }

    /// Caption row → image row. Fails with [`Error::InvalidArgument`] naming the first caption
    /// whose image id is not among the images.
    pub fn grouping(&self) -> Result<Grouping> {
        let rows = self
            .image_rows()
            .map_err(|p| Error::invalid("caption set", p))?;
        Grouping::new(rows, self.images.len())
    }

    /// References per image id (`{image id: [caption texts in row order]}`), the form the
    /// caption metrics take. Images without captions are left out.
    pub fn references(&self) -> References {
        let mut out = References::new();
        for c in &self.captions {
            out.entry(c.image_id.clone())
                .or_default()
                .push(c.text.clone());
        }
        out
    }

    /// Read a sidecar `captions.json` (see the module docs). Every structural problem,
    /// duplicated id and unknown image id is an [`Error::Format`] naming the file.
    pub fn read(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        Self::from_value(&read_json(path)?, path)
    }

    /// Parse a sidecar from an already-read JSON value (see [`CaptionSet::read`]).
    pub fn from_value(v: &Value, path: &Path) -> Result<Self> {
        let obj = v
            .as_object()
            .ok_or_else(|| Error::format(path, "expected an object {\"images\", \"captions\"}"))?;
        let images = array_field(obj, "images", path, "sidecar")?
            .iter()
            .enumerate()
            .map(|(i, id)| id_string(id, path, &format!("images[{i}]")))
            .collect::<Result<Vec<_>>>()?;
        let captions = array_field(obj, "captions", path, "sidecar")?
            .iter()
            .enumerate()
            .map(|(i, c)| caption_record(c, path, i))
            .collect::<Result<Vec<_>>>()?;
        Self::checked(images, captions, path)
    }

    /// Write the sidecar atomically (pretty JSON).
    pub fn write(&self, path: impl AsRef<Path>) -> Result<()> {
        write_json_atomic(path, self)
    }

    /// Build from Karpathy images (e.g. one split of [`super::KarpathyDataset`]): image rows
    /// in the given order, caption rows in sentence order within each image; caption id =
    /// `sentid`, text = `raw` (trimmed).
    pub fn from_karpathy<'a>(images: impl IntoIterator<Item = &'a KarpathyImage>) -> Result<Self> {
        let mut ids = Vec::new();
        let mut captions = Vec::new();
        for img in images {
            ids.push(img.id.clone());
            captions.extend(img.sentences.iter().map(|s| CaptionRecord {
                id: s.id.clone(),
                image_id: img.id.clone(),
                text: s.raw.trim().to_owned(),
            }));
        }
        CaptionSet::new(ids, captions)
    }

    /// Read a COCO captions annotation file (`captions_train2014.json`): image rows in the
    /// order of `images[].id`, caption rows in the order of `annotations[]` (`id`,
    /// `image_id`, `caption` trimmed).
    pub fn from_coco_annotations(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        Self::from_coco_value(&read_json(path)?, path)
    }

    /// Parse a COCO captions annotation file from an already-read JSON value.
    pub fn from_coco_value(v: &Value, path: &Path) -> Result<Self> {
        let obj = v
            .as_object()
            .ok_or_else(|| Error::format(path, "expected a COCO annotation object"))?;
        let images = array_field(obj, "images", path, "COCO file")?
            .iter()
            .enumerate()
            .map(|(i, img)| {
                let ctx = format!("images[{i}]");
                id_string(required(img, "id", path, &ctx)?, path, &ctx)
            })
            .collect::<Result<Vec<_>>>()?;
        let captions = array_field(obj, "annotations", path, "COCO file")?
            .iter()
            .enumerate()
            .map(|(i, ann)| {
                let ctx = format!("annotations[{i}]");
                Ok(CaptionRecord {
                    id: id_string(required(ann, "id", path, &ctx)?, path, &ctx)?,
                    image_id: id_string(required(ann, "image_id", path, &ctx)?, path, &ctx)?,
                    text: caption_string(required(ann, "caption", path, &ctx)?, path, &ctx)?
                        .trim()
                        .to_owned(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Self::checked(images, captions, path)
    }

    /// Build from plain text: `images_txt` has one image id per line (image-row order);
    /// `captions_tsv` has one caption per line (caption-row order), either
    /// `image_id<TAB>text` (the caption id is then the 0-based row number) or
    /// `caption_id<TAB>image_id<TAB>text`. Blank lines are errors (see [`read_lines`]).
    pub fn from_text_files(
        images_txt: impl AsRef<Path>,
        captions_tsv: impl AsRef<Path>,
    ) -> Result<Self> {
        let images = read_lines(images_txt.as_ref())?;
        let path = captions_tsv.as_ref();
        let captions = read_lines(path)?
            .into_iter()
            .enumerate()
            .map(|(row, line)| tsv_record(&line, row, path))
            .collect::<Result<Vec<_>>>()?;
        Self::checked(images, captions, path)
    }

    /// Read any caption JSON that names images and their captions, recognized by its keys: a
    /// COCO annotation file (`annotations`), a Karpathy split file (`images[].sentences`; all
    /// splits, file order) or a sidecar.
    pub fn read_auto(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let v = read_json(path)?;
        if v.get("annotations").is_some() {
            return Self::from_coco_value(&v, path);
        }
        let first_image = v.get("images").and_then(|i| i.get(0));
        if first_image.is_some_and(|i| i.get("sentences").is_some()) {
            let data = karpathy_from_value(&v, path)?;
            let set = Self::from_karpathy(&data.images).map_err(|e| in_file(e, path))?;
            return Ok(set);
        }
        Self::from_value(&v, path)
    }

    /// Validate a set read from `path`: duplicates and unknown image ids become
    /// [`Error::Format`] naming the file.
    fn checked(images: Vec<String>, captions: Vec<CaptionRecord>, path: &Path) -> Result<Self> {
        let set = CaptionSet { images, captions };
        if let Some(p) = set.duplicate_problem() {
            return Err(Error::format(path, p));
        }
        set.image_rows().map_err(|p| Error::format(path, p))?;
        Ok(set)
    }

    fn duplicate_problem(&self) -> Option<String> {
        let mut seen = HashSet::with_capacity(self.images.len());
        if let Some(id) = self.images.iter().find(|id| !seen.insert(id.as_str())) {
            return Some(format!("image id {id:?} appears more than once"));
        }
        let mut seen = HashSet::with_capacity(self.captions.len());
        if let Some(c) = self.captions.iter().find(|c| !seen.insert(c.id.as_str())) {
            return Some(format!("caption id {:?} appears more than once", c.id));
        }
        None
    }

    fn image_rows(&self) -> std::result::Result<Vec<usize>, String> {
        let row_of: HashMap<&str, usize> = self
            .images
            .iter()
            .enumerate()
            .map(|(r, id)| (id.as_str(), r))
            .collect();
        self.captions
            .iter()
            .map(|c| {
                row_of.get(c.image_id.as_str()).copied().ok_or_else(|| {
                    format!(
                        "caption {:?} refers to image id {:?}, which is not among the images",
                        c.id, c.image_id
                    )
                })
            })
            .collect()
    }
}

/// Re-attribute a path-less error to the file it came from.
fn in_file(e: Error, path: &Path) -> Error {
    match e {
        Error::InvalidArgument { problem, .. } => Error::format(path, problem),
        other => other,
    }
}

fn array_field<'a>(
    obj: &'a serde_json::Map<String, Value>,
    key: &str,
    path: &Path,
    what: &str,
) -> Result<&'a Vec<Value>> {
    match obj.get(key) {
        Some(Value::Array(a)) => Ok(a),
        Some(other) => Err(Error::format(
            path,
            format!("{what}: \"{key}\" must be a list, got {}", type_name(other)),
        )),
        None => Err(Error::format(path, format!("{what}: missing \"{key}\""))),
    }
}

pub(super) fn required<'a>(v: &'a Value, key: &str, path: &Path, ctx: &str) -> Result<&'a Value> {
    if !v.is_object() {
        return Err(Error::format(
            path,
            format!("{ctx}: expected an object, got {}", type_name(v)),
        ));
    }
    v.get(key)
        .ok_or_else(|| Error::format(path, format!("{ctx}: missing \"{key}\"")))
}

pub(super) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn caption_record(v: &Value, path: &Path, row: usize) -> Result<CaptionRecord> {
    let ctx = format!("captions[{row}]");
    Ok(CaptionRecord {
        id: id_string(required(v, "id", path, &ctx)?, path, &ctx)?,
        image_id: id_string(required(v, "image_id", path, &ctx)?, path, &ctx)?,
        text: caption_string(required(v, "text", path, &ctx)?, path, &ctx)?,
    })
}

fn tsv_record(line: &str, row: usize, path: &Path) -> Result<CaptionRecord> {
    let fields: Vec<&str> = line.split('\t').collect();
    let (id, image_id, text) = match fields.as_slice() {
        [image_id, text] => (row.to_string(), *image_id, *text),
        [id, image_id, text] => (id.to_string(), *image_id, *text),
        _ => {
            return Err(Error::format(
                path,
                format!(
                    "line {}: expected \"image_id<TAB>caption\" or \"caption_id<TAB>image_id<TAB>caption\", found {} tab-separated fields",
                    row + 1,
                    fields.len()
                ),
            ))
        }
    };
    Ok(CaptionRecord {
        id,
        image_id: image_id.trim().to_owned(),
        text: text.trim().to_owned(),
    })
}
