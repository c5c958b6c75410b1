//! Finding a model's files on disk and loading its tensors, with errors that name the tensor.
//!
//! A model spec is either a directory or a Hugging Face id `org/name` (optionally
//! `org/name@revision`) looked up in the local cache:
//! `$HF_HUB_CACHE`, else `$HF_HOME/hub`, else `~/.cache/huggingface/hub`; inside it
//! `models--org--name/refs/<revision or main>` holds the snapshot hash and
//! `models--org--name/snapshots/<hash>/` the files. Nothing is downloaded.

use std::path::{Path, PathBuf};

use candle_core::{DType, Device};
use candle_nn::VarBuilder;
use serde::de::DeserializeOwned;

use crate::{Error, Result};

/// The weight files of a model: safetensors (one file or shards) or a PyTorch pickle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WeightFiles {
    /// `model.safetensors` or the shards `model-0000k-of-0000n.safetensors`, sorted by name.
    Safetensors(Vec<PathBuf>),
    /// `pytorch_model.bin` (a `torch.save` zip archive of the state dict).
    PytorchBin(PathBuf),
}

/// A resolved model: its name as the user gave it, its directory and its files.
#[derive(Debug, Clone)]
pub struct ModelFiles {
    /// The spec the user gave (directory or Hugging Face id), used in error messages.
    pub name: String,
    /// The directory holding the files (a snapshot directory for cache ids).
    pub dir: PathBuf,
    /// The weights.
    pub weights: WeightFiles,
}

/// Resolve a model spec (a directory, or an `org/name[@revision]` id in the local Hugging Face
/// cache) to its files. Errors name the spec and what is missing.
pub fn resolve(spec: &str) -> Result<ModelFiles> {
    let as_dir = Path::new(spec);
    let dir = if as_dir.is_dir() {
        as_dir.to_path_buf()
    } else if looks_like_hub_id(spec) {
        resolve_in_cache(spec, &hub_cache_dir().ok_or_else(|| model_err(spec, "no Hugging Face cache: set HF_HUB_CACHE or HF_HOME (or HOME for ~/.cache/huggingface/hub)"))?)?
    } else {
        return Err(model_err(
            spec,
            "not a directory, and not an org/name Hugging Face id",
        ));
    };
    let weights = find_weights(spec, &dir)?;
    Ok(ModelFiles {
        name: spec.to_string(),
        dir,
        weights,
    })
}

/// The local Hugging Face hub cache: `$HF_HUB_CACHE`, else `$HF_HOME/hub`, else
/// `~/.cache/huggingface/hub`.
pub fn hub_cache_dir() -> Option<PathBuf> {
    let var = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    var("HF_HUB_CACHE")
        .or_else(|| var("HF_HOME").map(|h| h.join("hub")))
        .or_else(|| var("HOME").map(|h| h.join(".cache").join("huggingface").join("hub")))
}

/// Resolve `org/name[@revision]` inside a hub cache directory.
pub fn resolve_in_cache(spec: &str, cache: &Path) -> Result<PathBuf> {
    let (id, revision) = spec.split_once('@').unwrap_or((spec, "main"));
    let repo = cache.join(format!("models--{}", id.replace('/', "--")));
    if !repo.is_dir() {
        return Err(model_err(
            spec,
            format!(
                "not in the local Hugging Face cache ({} does not exist; nothing is downloaded)",
                repo.display()
            ),
        ));
    }
    let snapshots = repo.join("snapshots");
    // A revision is a ref name (refs/<revision> holds the commit hash) or a commit hash itself.
    let ref_file = repo.join("refs").join(revision);
    let hash = if ref_file.is_file() {
        std::fs::read_to_string(&ref_file)
            .map_err(|e| Error::io(&ref_file, e))?
            .trim()
            .to_string()
    } else if snapshots.join(revision).is_dir() {
        revision.to_string()
    } else {
        return Err(model_err(
            spec,
            format!("no ref {} in {}", revision, repo.join("refs").display()),
        ));
    };
    let dir = snapshots.join(&hash);
    if !dir.is_dir() {
        return Err(model_err(
            spec,
            format!("snapshot {} is missing", dir.display()),
        ));
    }
    Ok(dir)
}

fn looks_like_hub_id(spec: &str) -> bool {
    let id = spec.split_once('@').map_or(spec, |(id, _)| id);
    let mut parts = id.split('/');
    matches!((parts.next(), parts.next(), parts.next()), (Some(a), Some(b), None) if !a.is_empty() && !b.is_empty())
}

fn find_weights(spec: &str, dir: &Path) -> Result<WeightFiles> {
    let single = dir.join("model.safetensors");
    if single.is_file() {
        return Ok(WeightFiles::Safetensors(vec![single]));
    }
    let mut shards: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "safetensors"))
        .collect();
    if !shards.is_empty() {
        shards.sort();
        return Ok(WeightFiles::Safetensors(shards));
    }
    let bin = dir.join("pytorch_model.bin");
    if bin.is_file() {
        return Ok(WeightFiles::PytorchBin(bin));
    }
    Err(model_err(spec, format!("no weights in {}: expected model.safetensors, *.safetensors shards or pytorch_model.bin", dir.display())))
}

impl ModelFiles {
    /// A file of the model directory that must exist (`config.json`, `tokenizer.json`, ...).
    pub fn file(&self, name: &str) -> Result<PathBuf> {
        let path = self.dir.join(name);
        if path.is_file() {
            Ok(path)
        } else {
            Err(self.error(format!("missing {name} in {}", self.dir.display())))
        }
    }

    /// Parse `config.json` (or another JSON file of the directory) into `T`.
    pub fn json<T: DeserializeOwned>(&self, name: &str) -> Result<T> {
        let path = self.file(name)?;
        let text = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
        serde_json::from_slice(&text).map_err(|e| Error::Json { path, source: e })
    }

    /// The model's `tokenizer.json`, loaded by the `tokenizers` crate.
    pub fn tokenizer(&self) -> Result<tokenizers::Tokenizer> {
        let path = self.file("tokenizer.json")?;
        tokenizers::Tokenizer::from_file(&path)
            .map_err(|e| self.error(format!("{}: cannot load tokenizer: {e}", path.display())))
    }

    /// A candle `VarBuilder` over the weights (f32 on the CPU). Tensors are read lazily;
    /// asking for a missing or mis-shaped one is an error naming it (see [`candle`]).
    pub fn var_builder(&self) -> Result<VarBuilder<'static>> {
        let device = Device::Cpu;
        let vb = match &self.weights {
            // SAFETY: the files are mapped read-only; like every memory map, the mapping is
            // only sound while no other process truncates the files.
            WeightFiles::Safetensors(files) => unsafe {
                VarBuilder::from_mmaped_safetensors(files, DType::F32, &device)
            },
            WeightFiles::PytorchBin(file) => VarBuilder::from_pth(file, DType::F32, &device),
        };
        vb.map_err(|e| self.error(format!("cannot open weights: {e}")))
    }

    /// An [`Error::Model`] for this model.
    pub fn error(&self, problem: impl Into<String>) -> Error {
        model_err(&self.name, problem)
    }
}

/// An [`Error::Model`] for the model named `model`.
pub fn model_err(model: &str, problem: impl Into<String>) -> Error {
    Error::Model {
        model: model.to_string(),
        problem: problem.into(),
    }
}

/// Map a candle error into [`Error::Model`] for `model` (candle's messages name the tensor
/// and both shapes for a missing or mis-shaped weight).
pub fn candle(model: &str) -> impl Fn(candle_core::Error) -> Error + '_ {
    move |e| model_err(model, e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(path: &Path) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, b"x").unwrap();
    }

    #[test]
    fn resolves_an_id_through_refs_and_a_revision_hash() {
        let cache = tempfile::tempdir().unwrap();
        let repo = cache.path().join("models--openai--clip-vit-base-patch32");
        touch(&repo.join("refs/main"));
        std::fs::write(repo.join("refs/main"), "abc123\n").unwrap();
        touch(&repo.join("snapshots/abc123/model.safetensors"));
        let dir = resolve_in_cache("openai/clip-vit-base-patch32", cache.path()).unwrap();
        assert_eq!(dir, repo.join("snapshots/abc123"));
        let dir = resolve_in_cache("openai/clip-vit-base-patch32@abc123", cache.path()).unwrap();
        assert_eq!(dir, repo.join("snapshots/abc123"));
        let e = resolve_in_cache("openai/clip-vit-base-patch32@v2", cache.path()).unwrap_err();
        assert!(e.to_string().contains("no ref v2"), "{e}");
        let e = resolve_in_cache("openai/other", cache.path()).unwrap_err();
        assert!(e.to_string().contains("nothing is downloaded"), "{e}");
    }

    #[test]
    fn weights_prefer_safetensors_and_missing_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let spec = dir.path().to_str().unwrap();
        let e = resolve(spec).unwrap_err();
        assert!(e.to_string().contains("no weights"), "{e}");
        touch(&dir.path().join("pytorch_model.bin"));
        assert!(matches!(
            resolve(spec).unwrap().weights,
            WeightFiles::PytorchBin(_)
        ));
        touch(&dir.path().join("model-00002-of-00002.safetensors"));
        touch(&dir.path().join("model-00001-of-00002.safetensors"));
        let m = resolve(spec).unwrap();
        match &m.weights {
            WeightFiles::Safetensors(f) => {
                assert!(f[0].ends_with("model-00001-of-00002.safetensors"))
            }
            other => panic!("{other:?}"),
        }
        let e = m.file("tokenizer.json").unwrap_err();
        assert!(e.to_string().contains("missing tokenizer.json"), "{e}");
        assert!(resolve("not/a/dir/nor/id").is_err());
    }
}
