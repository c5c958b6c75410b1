//! ReCap's prompt: the retrieved captions put into a template for the language model.
//!
//! The template holds `{captions}`, replaced by the first `n` retrieved captions (best
//! first, each trimmed, a trailing period dropped) joined by `separator`. recap's default,
//! [`RECAP_TEMPLATE`], follows SmallCap's wording ("Similar images show … This image
//! shows"); the ReCap paper's exact wording can be given as a template of its own
//! (`recap caption --prompt-template`). SmallCap's own prompt, byte for byte as its code
//! builds it, is `crate::models::smallcap` (feature `models`).

use crate::{Error, Result};

/// recap's default template for an instruction-tuned encoder–decoder (FLAN-T5).
pub const RECAP_TEMPLATE: &str = "Similar images show:\n{captions}\nThis image shows:";

/// A prompt template with a `{captions}` slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptTemplate {
    template: String,
    separator: String,
    max_captions: usize,
}

impl Default for PromptTemplate {
    fn default() -> Self {
        PromptTemplate {
            template: RECAP_TEMPLATE.to_string(),
            separator: "\n".to_string(),
            max_captions: 7,
        }
    }
}

impl PromptTemplate {
    /// A template; errors unless it contains `{captions}` exactly once.
    pub fn new(template: &str) -> Result<Self> {
        if template.matches("{captions}").count() != 1 {
            return Err(Error::invalid(
                "prompt template",
                format!("needs exactly one {{captions}} slot: {template:?}"),
            ));
        }
        Ok(PromptTemplate {
            template: template.to_string(),
            ..Self::default()
        })
    }

    /// The text between captions (default `"\n"`).
    pub fn separator(mut self, separator: &str) -> Self {
        self.separator = separator.to_string();
        self
    }

    /// Use at most `n` captions (default 7).
    pub fn max_captions(mut self, n: usize) -> Self {
        self.max_captions = n;
        self
    }

    /// The prompt for `captions` (best first).
    pub fn render(&self, captions: &[&str]) -> String {
        let joined: Vec<&str> = captions
            .iter()
            .take(self.max_captions)
            .map(|c| c.trim().trim_end_matches('.').trim_end())
            .collect();
        self.template
            .replace("{captions}", &joined.join(&self.separator))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_slot_and_rejects_templates_without_one() {
        let t = PromptTemplate::default().max_captions(2);
        assert_eq!(
            t.render(&[" a dog runs. ", "a cat", "unused"]),
            "Similar images show:\na dog runs\na cat\nThis image shows:"
        );
        assert!(PromptTemplate::new("no slot").is_err());
        assert!(PromptTemplate::new("{captions} {captions}").is_err());
        assert_eq!(
            PromptTemplate::new("<{captions}>")
                .unwrap()
                .separator("|")
                .render(&["x", "y"]),
            "<x|y>"
        );
    }
}
