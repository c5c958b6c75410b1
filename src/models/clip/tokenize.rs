//! CLIP's tokenizer through the model's `tokenizer.json` (`tokenizers`), as `CLIPTokenizer`
//! with `truncation=True, max_length=77` and `padding=True`: `<|startoftext|> ... <|endoftext|>`,
//! cut to `max_position_embeddings` tokens (the EOS kept last), rows padded on the right with
//! the pad token (`<|endoftext|>` unless `tokenizer.json` names another). The empty text is
//! `[BOS, EOS]`.

use tokenizers::{Tokenizer, TruncationDirection, TruncationParams, TruncationStrategy};

use crate::models::ModelFiles;
use crate::Result;

/// A loaded CLIP tokenizer.
pub struct ClipTokenizer {
    tok: Tokenizer,
    pad_id: u32,
    max_len: usize,
}

/// Token ids of a batch of texts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tokenized {
    /// Ids per text, unpadded, at most `max_len` long.
    pub ids: Vec<Vec<u32>>,
    /// Indices of the texts that were cut to `max_len` tokens.
    pub truncated: Vec<usize>,
}

impl ClipTokenizer {
    /// Load `tokenizer.json`, truncating at `max_len` (the text tower's
    /// `max_position_embeddings`).
    pub fn load(files: &ModelFiles, max_len: usize) -> Result<Self> {
        let mut tok = files.tokenizer()?;
        let pad_id = match tok.get_padding() {
            Some(p) => p.pad_id,
            None => tok
                .token_to_id("<|endoftext|>")
                .ok_or_else(|| files.error("tokenizer.json has no <|endoftext|> token"))?,
        };
        tok.with_padding(None);
        tok.with_truncation(Some(TruncationParams {
            max_length: max_len,
            strategy: TruncationStrategy::LongestFirst,
            direction: TruncationDirection::Right,
            stride: 0,
        }))
        .map_err(|e| files.error(format!("tokenizer.json: {e}")))?;
        Ok(ClipTokenizer {
            tok,
            pad_id,
            max_len,
        })
    }

    /// Tokenize with special tokens and truncation.
    pub fn encode(&self, texts: &[&str]) -> Result<Tokenized> {
        let mut ids = Vec::with_capacity(texts.len());
        let mut truncated = Vec::new();
        for (i, t) in texts.iter().enumerate() {
            let enc = self.tok.encode(*t, true).map_err(|e| {
                crate::Error::invalid("text", format!("cannot tokenize text {i}: {e}"))
            })?;
            if !enc.get_overflowing().is_empty() {
                truncated.push(i);
            }
            ids.push(enc.get_ids().to_vec());
        }
        Ok(Tokenized { ids, truncated })
    }

    /// Rows padded on the right with the pad id to the longest row.
    pub fn pad(&self, rows: &[Vec<u32>]) -> Vec<Vec<u32>> {
        let n = rows.iter().map(Vec::len).max().unwrap_or(0);
        rows.iter()
            .map(|r| {
                let mut r = r.clone();
                r.resize(n, self.pad_id);
                r
            })
            .collect()
    }

    /// The pad id.
    pub fn pad_id(&self) -> u32 {
        self.pad_id
    }

    /// The longest token sequence (truncation length).
    pub fn max_len(&self) -> usize {
        self.max_len
    }
}
