//! Any language model behind an OpenAI-compatible HTTP server — vLLM, llama.cpp's server,
//! TGI, ollama — as a [`CaptionLm`].
//!
//! - `/v1/completions` (`prompt`) or `/v1/chat/completions` (one user message), chosen by
//!   [`Api`]; `n` candidates asked in one request. Where a server refuses `n > 1` (an HTTP
//!   4xx) or silently returns fewer choices (llama.cpp's server), the client falls back to
//!   `n` single requests with seeds `seed, seed + 1, …` and remembers that for the next calls.
//! - Never sends `best_of` (removed from vLLM) or beam-search parameters: beam search is not
//!   part of the API, and asking for it is an error.
//! - Greedy decoding is `temperature = 0`; sampling sends `temperature`, `top_p`, `seed` and
//!   `top_k` only when set (vLLM, llama.cpp and ollama accept it; OpenAI does not).
//! - Token log-probabilities are asked for (`logprobs`) and summed when the server returns
//!   them; `Generated::logprob` is `None` otherwise.
//! - Timeouts (connect and whole request), retries with exponential backoff (connection
//!   errors, timeouts, 429, 5xx; never other 4xx), and one [`Error::Http`] per failure:
//!   connection refused, HTTP status (with the server's message), malformed JSON, fewer
//!   choices than asked.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::{json, Value};

use super::lm::{CaptionLm, Decoding, Generated};
use crate::{Error, Result};

/// Which endpoint the client calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// `POST {base}/v1/completions` with `prompt`.
    Completions,
    /// `POST {base}/v1/chat/completions` with one user message.
    Chat,
}

/// A caption LM served over HTTP.
#[derive(Debug)]
pub struct HttpLm {
    base_url: String,
    model: String,
    api: Api,
    api_key: Option<String>,
    retries: u32,
    backoff: Duration,
    agent: ureq::Agent,
    single_choice_only: AtomicBool,
}

/// What one failed attempt means for the next.
enum Attempt {
    /// Try again after a backoff (connection error, timeout, 429, 5xx).
    Retry(Error),
    /// Give up at once.
    Fatal(Error),
    /// The server refused the request's `n` (4xx naming it, or fewer choices).
    RefusedN(Error),
}

impl HttpLm {
    /// A client for `base_url` (e.g. `http://127.0.0.1:8000`; a trailing `/v1` is accepted)
    /// and the server's `model` name, with a 60 s request timeout, 10 s to connect, and 2
    /// retries starting at a 0.5 s backoff.
    pub fn new(base_url: &str, model: &str, api: Api) -> Self {
        let base = base_url.trim_end_matches('/');
        let base = base.strip_suffix("/v1").unwrap_or(base).to_string();
        HttpLm {
            base_url: base,
            model: model.to_string(),
            api,
            api_key: None,
            retries: 2,
            backoff: Duration::from_millis(500),
            agent: ureq::Agent::new_with_defaults(),
            single_choice_only: AtomicBool::new(false),
        }
        .timeouts(Duration::from_secs(10), Duration::from_secs(60))
    }

    /// Connect and whole-request timeouts.
    pub fn timeouts(mut self, connect: Duration, request: Duration) -> Self {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(connect))
            .timeout_global(Some(request))
            .build();
        self.agent = ureq::Agent::new_with_config(config);
        self
    }

    /// Retries after the first attempt, and the first backoff (doubled each retry).
    pub fn retries(mut self, retries: u32, backoff: Duration) -> Self {
        self.retries = retries;
        self.backoff = backoff;
        self
    }

    /// A bearer token (`Authorization: Bearer …`).
    pub fn api_key(mut self, key: Option<String>) -> Self {
        self.api_key = key;
        self
    }

    fn url(&self) -> String {
        match self.api {
            Api::Completions => format!("{}/v1/completions", self.base_url),
            Api::Chat => format!("{}/v1/chat/completions", self.base_url),
        }
    }

    fn err(&self, problem: impl Into<String>) -> Error {
        Error::Http {
            url: self.url(),
            problem: problem.into(),
        }
    }

    /// The JSON body of one request for `n` candidates (`seed` overrides the sampling seed).
    fn body(
        &self,
        prompt: &str,
        n: usize,
        decoding: &Decoding,
        max_new_tokens: usize,
        seed: Option<u64>,
    ) -> Result<Value> {
        let mut body = json!({ "model": self.model, "n": n, "max_tokens": max_new_tokens });
        match self.api {
            Api::Completions => {
                body["prompt"] = json!(prompt);
                body["logprobs"] = json!(0);
            }
            Api::Chat => {
                body["messages"] = json!([{ "role": "user", "content": prompt }]);
                body["logprobs"] = json!(true);
            }
        }
        match decoding {
            Decoding::Greedy => body["temperature"] = json!(0.0),
            Decoding::Sample { temperature, top_k, top_p, seed: s } => {
                body["temperature"] = json!(temperature);
                body["top_p"] = json!(top_p);
                body["seed"] = json!(seed.unwrap_or(*s));
                if *top_k > 0 {
                    body["top_k"] = json!(top_k);
                }
            }
            Decoding::Beam { .. } => {
                return Err(self.err("beam search is not part of the OpenAI-compatible API; use --decode sample or greedy with an HTTP LM"))
            }
        }
        Ok(body)
    }

    /// One request with retries; the parsed choices.
    fn request(&self, body: &Value) -> std::result::Result<Vec<Generated>, Attempt> {
        let mut wait = self.backoff;
        let mut attempt = 0;
        loop {
            match self.attempt(body) {
                Err(Attempt::Retry(_)) if attempt < self.retries => {
                    attempt += 1;
                    std::thread::sleep(wait);
                    wait *= 2;
                }
                other => return other,
            }
        }
    }

    fn attempt(&self, body: &Value) -> std::result::Result<Vec<Generated>, Attempt> {
        let mut req = self
            .agent
            .post(&self.url())
            .header("Content-Type", "application/json");
        if let Some(key) = &self.api_key {
            req = req.header("Authorization", &format!("Bearer {key}"));
        }
        let mut resp = match req.send_json(body) {
            Ok(r) => r,
            Err(ureq::Error::Timeout(t)) => {
                return Err(Attempt::Retry(self.err(format!("timed out ({t})"))))
            }
            Err(e) => {
                return Err(Attempt::Retry(
                    self.err(format!("cannot reach the server: {e}")),
                ))
            }
        };
        let status = resp.status().as_u16();
        let text = resp
            .body_mut()
            .read_to_string()
            .map_err(|e| Attempt::Retry(self.err(format!("reading the reply: {e}"))))?;
        if status == 429 || status >= 500 {
            return Err(Attempt::Retry(
                self.err(format!("HTTP {status}: {}", excerpt(&text))),
            ));
        }
        if status >= 400 {
            let e = self.err(format!("HTTP {status}: {}", excerpt(&text)));
            let n = body["n"].as_u64().unwrap_or(1);
            return Err(if n > 1 {
                Attempt::RefusedN(e)
            } else {
                Attempt::Fatal(e)
            });
        }
        let value: Value = serde_json::from_str(&text).map_err(|e| {
            Attempt::Fatal(self.err(format!("malformed JSON reply ({e}): {}", excerpt(&text))))
        })?;
        self.parse_choices(&value).map_err(Attempt::Fatal)
    }

    fn parse_choices(&self, value: &Value) -> Result<Vec<Generated>> {
        let choices = value["choices"].as_array().ok_or_else(|| {
            self.err(format!(
                "reply has no \"choices\" list: {}",
                excerpt(&value.to_string())
            ))
        })?;
        choices.iter().map(|c| self.parse_choice(c)).collect()
    }

    fn parse_choice(&self, choice: &Value) -> Result<Generated> {
        let (text, logprobs) = match self.api {
            Api::Completions => (
                &choice["text"],
                choice["logprobs"]["token_logprobs"]
                    .as_array()
                    .map(|v| v.iter().filter_map(Value::as_f64).sum()),
            ),
            Api::Chat => (
                &choice["message"]["content"],
                choice["logprobs"]["content"]
                    .as_array()
                    .map(|v| v.iter().filter_map(|t| t["logprob"].as_f64()).sum()),
            ),
        };
        let text = text.as_str().ok_or_else(|| {
            self.err(format!(
                "a choice without text: {}",
                excerpt(&choice.to_string())
            ))
        })?;
        Ok(Generated {
            text: text.trim().to_string(),
            logprob: logprobs,
        })
    }

    fn single_requests(
        &self,
        prompt: &str,
        n: usize,
        decoding: &Decoding,
        max_new_tokens: usize,
    ) -> Result<Vec<Generated>> {
        let base_seed = match decoding {
            Decoding::Sample { seed, .. } => *seed,
            _ => 0,
        };
        (0..n as u64)
            .map(|i| {
                let body = self.body(
                    prompt,
                    1,
                    decoding,
                    max_new_tokens,
                    Some(base_seed.wrapping_add(i)),
                )?;
                let mut got = self.request(&body).map_err(into_error)?;
                if got.is_empty() {
                    return Err(self.err("the reply has no choices"));
                }
                Ok(got.swap_remove(0))
            })
            .collect()
    }
}

fn into_error(a: Attempt) -> Error {
    match a {
        Attempt::Retry(e) | Attempt::Fatal(e) | Attempt::RefusedN(e) => e,
    }
}

/// The first 300 characters of a reply, for error messages.
fn excerpt(text: &str) -> String {
    let t: String = text.chars().take(300).collect();
    if t.len() < text.len() {
        format!("{t}…")
    } else {
        t
    }
}

impl CaptionLm for HttpLm {
    fn generate(
        &self,
        prompt: &str,
        n: usize,
        decoding: &Decoding,
        max_new_tokens: usize,
    ) -> Result<Vec<Generated>> {
        let n = if matches!(decoding, Decoding::Greedy) {
            1
        } else {
            n.max(1)
        };
        if n > 1 && self.single_choice_only.load(Ordering::Relaxed) {
            return self.single_requests(prompt, n, decoding, max_new_tokens);
        }
        let body = self.body(prompt, n, decoding, max_new_tokens, None)?;
        match self.request(&body) {
            Ok(got) if got.len() >= n => Ok(got.into_iter().take(n).collect()),
            Ok(got) if got.len() == 1 && n > 1 => {
                // The server ignored n (llama.cpp): ask one at a time from now on.
                self.single_choice_only.store(true, Ordering::Relaxed);
                let mut rest =
                    self.single_requests(prompt, n - 1, &reseeded(decoding, 1), max_new_tokens)?;
                rest.insert(0, got.into_iter().next().expect("one choice"));
                Ok(rest)
            }
            Ok(got) => Err(self.err(format!(
                "asked for {n} choices, the server returned {}",
                got.len()
            ))),
            Err(Attempt::RefusedN(_)) => {
                self.single_choice_only.store(true, Ordering::Relaxed);
                self.single_requests(prompt, n, decoding, max_new_tokens)
            }
            Err(a) => Err(into_error(a)),
        }
    }

    fn describe(&self) -> String {
        format!("{} at {}", self.model, self.url())
    }
}

/// The same decoding with its seed advanced by `by` (for the fallback's later candidates).
fn reseeded(decoding: &Decoding, by: u64) -> Decoding {
    match decoding {
        Decoding::Sample {
            temperature,
            top_k,
            top_p,
            seed,
        } => Decoding::Sample {
            temperature: *temperature,
            top_k: *top_k,
            top_p: *top_p,
            seed: seed.wrapping_add(by),
        },
        other => other.clone(),
    }
}
