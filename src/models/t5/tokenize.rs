//! The model's `tokenizer.json` (SentencePiece Unigram for T5), with truncation that keeps
//! the closing `</s>` like `transformers`' `truncation=True, max_length=n`.

use tokenizers::Tokenizer;

use super::model::PromptBatch;
use crate::models::weights::ModelFiles;
use crate::{Error, Result};

/// A T5 tokenizer.
#[derive(Debug, Clone)]
pub struct T5Tokenizer {
    inner: Tokenizer,
    name: String,
    pad_id: u32,
}

/// Token ids of one text and whether they were truncated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    /// Ids, special tokens (the closing `</s>`) included.
    pub ids: Vec<u32>,
    /// Whether the text had more tokens than `max_length` (and was cut).
    pub truncated: bool,
}

impl T5Tokenizer {
    /// Load `tokenizer.json`; the pad id is the one of `<pad>` (0 when absent).
    pub fn load(files: &ModelFiles) -> Result<Self> {
        let inner = files.tokenizer()?;
        let pad_id = inner.token_to_id("<pad>").unwrap_or(0);
        Ok(Self {
            inner,
            name: files.name.clone(),
            pad_id,
        })
    }

    /// Ids of `text` with the special tokens the tokenizer's template adds. With
    /// `max_length = Some(n)`, a longer result keeps its first `n − 1` tokens and its last
    /// token (`</s>`), and is reported as truncated.
    pub fn encode(&self, text: &str, max_length: Option<usize>) -> Result<Encoded> {
        let enc = self.inner.encode(text, true).map_err(|e| {
            crate::models::weights::model_err(&self.name, format!("tokenizer: {e}"))
        })?;
        let mut ids = enc.get_ids().to_vec();
        let special = enc.get_special_tokens_mask();
        let truncated = match max_length {
            Some(0) => return Err(Error::invalid("max_length", "must be positive")),
            Some(n) if ids.len() > n => {
                // Keep the trailing special tokens (</s>), cut the text before them.
                let tail = special.iter().rev().take_while(|&&s| s == 1).count().min(n);
                let tail_ids = ids[ids.len() - tail..].to_vec();
                ids.truncate(n - tail);
                ids.extend(tail_ids);
                true
            }
            _ => false,
        };
        Ok(Encoded { ids, truncated })
    }

    /// Encode texts and pad them into a batch; also returns which were truncated.
    pub fn batch(
        &self,
        texts: &[&str],
        max_length: Option<usize>,
    ) -> Result<(PromptBatch, Vec<bool>)> {
        let enc = texts
            .iter()
            .map(|t| self.encode(t, max_length))
            .collect::<Result<Vec<_>>>()?;
        let truncated = enc.iter().map(|e| e.truncated).collect();
        let ids: Vec<Vec<u32>> = enc.into_iter().map(|e| e.ids).collect();
        Ok((PromptBatch::pad(&ids, self.pad_id), truncated))
    }

    /// Text of generated ids, special tokens skipped.
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        self.inner
            .decode(ids, true)
            .map_err(|e| crate::models::weights::model_err(&self.name, format!("tokenizer: {e}")))
    }

    /// The `<pad>` id.
    pub fn pad_id(&self) -> u32 {
        self.pad_id
    }
}
