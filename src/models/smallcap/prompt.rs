//! SmallCap's prompt, exactly as its `src/utils.py::prep_strings` builds it at inference
//! (`is_test=True`), and the caption read back from a generated sequence
//! (`postprocess_preds`).
//!
//! With retrieved captions `c₁…c_k` (the first `k` of those given; SmallCap uses `k = 4`):
//!
//! ```text
//! "Similar images show\n\n" + c₁ + "\n\n" + … + "\n\n" + c_k + ".\n\nThis image shows "
//! ```
//!
//! (`src/template.txt`, stripped, plus one space, with `||` replaced by the captions joined
//! by `"\n\n"` and a final `"."`). Without retrieval: `"This image shows "`. The prompt is
//! tokenized with GPT-2's byte-level BPE, no special tokens, **no truncation and no padding**
//! at inference; the decoder is given exactly these ids and generation continues after
//! them. SmallCap sets `eos_token = "."` and `pad_token = "!"` (`infer.py`): generation stops
//! at the token `"."`.

use crate::models::ModelFiles;
use crate::Result;

/// SmallCap's template (`src/template.txt` stripped + `" "`); `||` stands for the captions.
pub const TEMPLATE: &str = "Similar images show\n\n||\n\nThis image shows ";

/// The prompt without retrieval, also the marker the caption is cut after.
pub const SIMPLE_PREFIX: &str = "This image shows ";

/// SmallCap's number of retrieved captions in the prompt.
pub const DEFAULT_K: usize = 4;

/// SmallCap's end-of-caption token (`infer.py`: `EOS_TOKEN = '.'`).
pub const EOS_TOKEN: &str = ".";

/// SmallCap's padding token (`infer.py`: `PAD_TOKEN = '!'`).
pub const PAD_TOKEN: &str = "!";

/// GPT-2's `<|endoftext|>` (its BOS token, stripped from a decoded caption's start).
pub const BOS_TOKEN: &str = "<|endoftext|>";

/// The prompt text: the template with the first `k` of `captions` (retrieval), or
/// [`SIMPLE_PREFIX`] for `None` (no retrieval).
pub fn prompt_text<S: AsRef<str>>(captions: Option<&[S]>, k: usize) -> String {
    match captions {
        None => SIMPLE_PREFIX.to_string(),
        Some(caps) => {
            let infix = caps
                .iter()
                .take(k)
                .map(AsRef::as_ref)
                .collect::<Vec<_>>()
                .join("\n\n")
                + ".";
            TEMPLATE.replace("||", &infix)
        }
    }
}

/// A tokenized prompt and the end token generation stops at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptIds {
    /// The prompt's token ids (the decoder's prefix).
    pub ids: Vec<u32>,
    /// The id of [`EOS_TOKEN`].
    pub eos_token_id: u32,
}

/// GPT-2's tokenizer with SmallCap's special tokens.
#[derive(Debug, Clone)]
pub struct SmallCapTokenizer {
    tokenizer: tokenizers::Tokenizer,
    /// The id of `"."`.
    pub eos_token_id: u32,
    /// The id of `"!"`.
    pub pad_token_id: u32,
}

impl SmallCapTokenizer {
    /// Load `tokenizer.json` of a resolved model (SmallCap checkpoints reuse GPT-2's tokenizer:
    /// resolve `gpt2` or any directory holding its `tokenizer.json`).
    pub fn load(files: &ModelFiles) -> Result<Self> {
        let tokenizer = files.tokenizer()?;
        let id = |token: &str| {
            tokenizer.token_to_id(token).ok_or_else(|| {
                files.error(format!(
                    "tokenizer.json has no token {token:?} (SmallCap's eos/pad)"
                ))
            })
        };
        Ok(Self {
            eos_token_id: id(EOS_TOKEN)?,
            pad_token_id: id(PAD_TOKEN)?,
            tokenizer,
        })
    }

    /// Tokenize `text` as `tokenizer.encode(text)` does for GPT-2 (no special tokens added).
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        self.tokenizer
            .encode(text, false)
            .map(|e| e.get_ids().to_vec())
            .map_err(|e| crate::Error::invalid("text", format!("cannot tokenize {text:?}: {e}")))
    }

    /// The prompt for these retrieved captions (first `k`; `None`: no retrieval), tokenized.
    pub fn prompt<S: AsRef<str>>(&self, captions: Option<&[S]>, k: usize) -> Result<PromptIds> {
        Ok(PromptIds {
            ids: self.encode(&prompt_text(captions, k))?,
            eos_token_id: self.eos_token_id,
        })
    }

    /// The caption of a generated sequence, as `postprocess_preds(tokenizer.decode(prompt +
    /// generated))`: the text after the last [`SIMPLE_PREFIX`], every `"!"` removed, a leading
    /// `<|endoftext|>` and a trailing `"."` stripped (the caption keeps its leading space).
    pub fn caption(&self, prompt: &[u32], generated: &[u32]) -> Result<String> {
        let all: Vec<u32> = prompt.iter().chain(generated).copied().collect();
        let text = self
            .tokenizer
            .decode(&all, false)
            .map_err(|e| crate::Error::invalid("generated", format!("cannot decode: {e}")))?;
        Ok(postprocess(&text))
    }
}

/// SmallCap's `postprocess_preds` on a decoded text.
pub fn postprocess(text: &str) -> String {
    let pred = text.rsplit(SIMPLE_PREFIX).next().unwrap_or(text);
    let pred = pred.replace(PAD_TOKEN, "");
    let pred = pred.strip_prefix(BOS_TOKEN).unwrap_or(&pred);
    pred.strip_suffix(EOS_TOKEN).unwrap_or(pred).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_joins_the_first_k_captions() {
        let caps = ["a b", "c", "d", "e", "f"];
        assert_eq!(
            prompt_text(Some(&caps[..]), 4),
            "Similar images show\n\na b\n\nc\n\nd\n\ne.\n\nThis image shows "
        );
        assert_eq!(
            prompt_text(Some(&caps[..1]), 4),
            "Similar images show\n\na b.\n\nThis image shows "
        );
        assert_eq!(prompt_text::<&str>(None, 4), "This image shows ");
    }

    #[test]
    fn postprocess_follows_smallcap() {
        assert_eq!(
            postprocess("Similar x. This image shows  a dog!."),
            " a dog"
        );
        assert_eq!(postprocess("no marker."), "no marker");
        assert_eq!(postprocess("<|endoftext|>x"), "x");
    }
}
