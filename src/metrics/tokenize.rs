//! PTB tokenization as pycocoevalcap does it, in Rust (no Java).
//!
//! pycocoevalcap 1.2's `PTBTokenizer` runs Stanford CoreNLP 3.4.1's
//! `edu.stanford.nlp.process.PTBTokenizer -preserveLines -lowerCase` on one caption per line
//! (newlines inside a caption replaced by spaces), then drops every token found in its list
//! [`PUNCTUATIONS`] and joins the rest with single spaces. [`ptb_tokenize`] reproduces that
//! pipeline for one caption:
//!
//! - words split on whitespace; contractions split the PTB way (`can't` -> `ca n't`,
//!   `won't` -> `wo n't`, `I'm` -> `i 'm`, `gonna` -> `gon na`, `cannot` -> `can not`);
//!   possessive `'s` split off; a trailing possessive `'` dropped as a quote;
//! - punctuation split off and, when in the list, removed (`.` `,` `;` `:` `?` `!` `-` `--`
//!   `...` and all quotes); runs of `?`/`!` (`?!`, `!!!`) survive as one token, as in Java;
//! - brackets become `-lrb-` `-rrb-` `-lsb-` `-rsb-` `-lcb-` `-rcb-` and survive (the list
//!   holds the upper-case forms, which never match after `-lowerCase`);
//! - currency: `$5` -> `$ 5`, `£` -> `#`, `€` -> `$`, `¢` -> `cents`; `&amp;` -> `&`;
//!   `½` -> `1/2`; unicode dashes and ellipses normalized (and removed); characters outside
//!   the Basic Multilingual Plane (emoji) are dropped, as the Java lexer reports them
//!   "untokenizable";
//! - numbers (`1,000,000`, `3.14`, `10:30`, `12/25/2020`, `+3`), hyphenated words, `a/b`,
//!   URLs, e-mail addresses and abbreviations (`mr.`, `u.s.a.`, `p.m.`) stay whole;
//! - lower-casing with Unicode rules.
//!
//! The Java lexer is a large JFlex grammar; this is a re-implementation checked against the
//! jar's output on the committed case list `tests/data/metrics/` (see `make_goldens.py`).
//! Known differences (documented and excluded there): emoticons such as `:)` (Java emits
//! `:-rrb-`), and rare abbreviation decisions at the end of a caption for words outside the
//! abbreviation list.

/// Tokens pycocoevalcap removes after tokenization (its `PUNCTUATIONS` list, as written;
/// the upper-case bracket names never match lower-cased output).
pub const PUNCTUATIONS: [&str; 17] = [
    "''", "'", "``", "`", "-LRB-", "-RRB-", "-LCB-", "-RCB-", ".", "?", "!", ",", ":", "-", "--",
    "...", ";",
];

/// Words the lexer splits in two (`gonna` -> `gon na`), lower-case, with the split point.
const SPLIT_WORDS: [(&str, usize); 9] = [
    ("cannot", 3),
    ("gonna", 3),
    ("gotta", 3),
    ("wanna", 3),
    ("gimme", 3),
    ("lemme", 3),
    ("dunno", 3),
    ("'tis", 2),
    ("'twas", 2),
];

/// Abbreviations that keep their final period (lower-case, without the period).
const ABBREVIATIONS: [&str; 46] = [
    "mr", "mrs", "ms", "dr", "st", "mt", "jr", "sr", "vs", "etc", "inc", "ltd", "co", "corp",
    "prof", "gen", "capt", "lt", "col", "sgt", "rev", "ave", "blvd", "rd", "no", "jan", "feb",
    "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "messrs", "gov", "sen",
    "rep", "bros", "ft", "fig", "mass", "calif",
];

/// Tokenize one caption as pycocoevalcap's PTBTokenizer pipeline does; tokens joined by
/// single spaces (an empty string when nothing survives).
pub fn ptb_tokenize(caption: &str) -> String {
    let mut out = String::with_capacity(caption.len() + 8);
    let chars: Vec<char> = caption
        .chars()
        .filter(|&c| (c as u32) <= 0xFFFF)
        .map(|c| if c == '\n' { ' ' } else { c })
        .collect();
    let mut lexer = Lexer {
        s: &chars,
        pos: 0,
        out: &mut out,
    };
    lexer.run();
    out
}

/// Tokenize many captions (in parallel for large inputs); same order as the input.
pub fn ptb_tokenize_all(captions: &[String]) -> Vec<String> {
    use rayon::prelude::*;
    if captions.len() < 256 {
        captions.iter().map(|c| ptb_tokenize(c)).collect()
    } else {
        captions.par_iter().map(|c| ptb_tokenize(c)).collect()
    }
}

struct Lexer<'a> {
    s: &'a [char],
    pos: usize,
    /// Kept tokens, lower-cased, joined by single spaces.
    out: &'a mut String,
}

fn is_word_char(c: char) -> bool {
    (c.is_alphanumeric() && !matches!(c, '½' | '¼' | '¾')) || c == '_' || is_combining(c)
}

fn is_combining(c: char) -> bool {
    matches!(c as u32, 0x0300..=0x036F)
}

fn is_space(c: char) -> bool {
    c.is_whitespace() || c == '\u{FEFF}'
}

impl Lexer<'_> {
    fn peek(&self, k: usize) -> Option<char> {
        self.s.get(self.pos + k).copied()
    }

    /// Append a token (lower-cased) unless it is empty or in [`PUNCTUATIONS`].
    fn emit(&mut self, t: impl AsRef<str>) {
        let t = t.as_ref();
        if t.is_empty() {
            return;
        }
        let lower: std::borrow::Cow<str> = if t.bytes().any(|b| b.is_ascii_uppercase() || b >= 0x80)
        {
            t.to_lowercase().into()
        } else {
            t.into()
        };
        if PUNCTUATIONS.contains(&&*lower) {
            return;
        }
        if !self.out.is_empty() {
            self.out.push(' ');
        }
        self.out.push_str(&lower);
    }

    fn run(&mut self) {
        while let Some(c) = self.peek(0) {
            if is_space(c) {
                self.pos += 1;
            } else if self.url() || self.apostrophe_word() {
            } else if is_word_char(c)
                || ((c == '+' || c == '@') && self.peek(1).is_some_and(is_word_char))
            {
                self.word();
            } else {
                self.symbol(c);
            }
        }
    }

    /// `http://...`, `https://...`, `ftp://...`, `www....`: up to whitespace, trailing
    /// punctuation split off.
    fn url(&mut self) -> bool {
        let rest = &self.s[self.pos..];
        let starts = |p: &str| {
            p.chars().count() <= rest.len()
                && p.chars()
                    .zip(rest)
                    .all(|(a, &b)| b.to_ascii_lowercase() == a)
        };
        let is_url = ["http://", "https://", "ftp://", "www."]
            .into_iter()
            .any(starts);
        if !is_url {
            return false;
        }
        let mut end = self.pos;
        while end < self.s.len() && !is_space(self.s[end]) {
            end += 1;
        }
        while end > self.pos + 4 && ".,;:!?)]}'\"".contains(self.s[end - 1]) {
            end -= 1;
        }
        let t: String = self.s[self.pos..end].iter().collect();
        self.emit(t);
        self.pos = end;
        true
    }

    /// Words that begin with an apostrophe: `'90s`, `'tis`, `'twas`, `'n'`.
    fn apostrophe_word(&mut self) -> bool {
        if !matches!(self.peek(0), Some('\'') | Some('’')) {
            return false;
        }
        let mut end = self.pos + 1;
        while end < self.s.len() && is_word_char(self.s[end]) {
            end += 1;
        }
        let body: String = self.s[self.pos + 1..end].iter().collect();
        let lower = body.to_lowercase();
        let digits_s = lower.len() >= 3
            && lower.ends_with('s')
            && lower[..lower.len() - 1].chars().all(|c| c.is_ascii_digit());
        if digits_s {
            self.emit(format!("'{body}"));
        } else if lower == "tis" || lower == "twas" {
            self.emit(format!("'{}", &body[..1]));
            self.emit(&body[1..]);
        } else {
            return false;
        }
        self.pos = end;
        true
    }

    /// A word, number, abbreviation or joined form (`well-known`, `a/b`, `3.14`, `x.y`).
    fn word(&mut self) {
        let start = self.pos;
        let mut end = start + 1;
        while end < self.s.len() {
            let c = self.s[end];
            let next = self.s.get(end + 1).copied();
            let prev = self.s[end - 1];
            let joins = if is_word_char(c) {
                true
            } else if matches!(c, '-' | '/' | '@' | '&' | '.') {
                next.is_some_and(is_word_char) && is_word_char(prev)
            } else if matches!(c, ',' | ':') {
                prev.is_ascii_digit() && next.is_some_and(|n| n.is_ascii_digit())
            } else if matches!(c, '\'' | '’') {
                prev.is_alphanumeric() && next.is_some_and(char::is_alphabetic)
            } else {
                false
            };
            if !joins {
                break;
            }
            end += 1;
        }
        let mut text: String = self.s[start..end].iter().collect();
        // A final period stays on abbreviations (`mr.`, `u.s.a.`).
        if self.s.get(end) == Some(&'.') && self.is_abbreviation(&text, end) {
            text.push('.');
            end += 1;
        }
        self.pos = end;
        self.split_word(text);
    }

    fn is_abbreviation(&self, text: &str, dot: usize) -> bool {
        let lower = text.to_lowercase();
        let letters_dots = lower.contains('.')
            && lower
                .split('.')
                .all(|p| p.chars().count() == 1 && p.chars().all(char::is_alphabetic));
        let single_letter = lower.chars().count() == 1 && lower.chars().all(char::is_alphabetic);
        if letters_dots || single_letter {
            return true;
        }
        if lower == "no" {
            // `No. 5` keeps the period; `I said no.` does not.
            let next = self.s[dot + 1..].iter().find(|&&c| !is_space(c));
            return next.is_some_and(char::is_ascii_digit);
        }
        ABBREVIATIONS.contains(&lower.as_str())
    }

    /// Contractions, special splits and number-unit splits of one scanned word.
    fn split_word(&mut self, text: String) {
        let plain = text.bytes().all(|b| b.is_ascii_alphanumeric())
            && !SPLIT_WORDS
                .iter()
                .any(|(w, _)| w.eq_ignore_ascii_case(&text));
        if plain {
            // No apostrophe, period, joiner or special word: the word as it is.
            self.emit(&text);
            return;
        }
        let lower = text.to_lowercase();
        if let Some(&(_, k)) = SPLIT_WORDS.iter().find(|(w, _)| *w == lower) {
            let (a, b) = split_chars(&text, k);
            self.emit(a);
            self.emit(b);
            return;
        }
        // Number followed by letters after a decimal point: `3.5mm` -> `3.5 mm`.
        if let Some(cut) = decimal_unit_split(&text) {
            let (a, b) = split_chars(&text, cut);
            self.emit(a);
            self.emit(b);
            return;
        }
        if lower.contains("'n'") {
            for (i, part) in lower.split("'n'").enumerate() {
                if i > 0 {
                    self.emit("'n'");
                }
                if !part.is_empty() {
                    self.emit(part);
                }
            }
            return;
        }
        let n = lower.chars().count();
        let norm = lower.replace('’', "'");
        if n > 3 && norm.ends_with("n't") {
            let (a, b) = split_chars(&text, n - 3);
            self.emit(a);
            self.emit(b);
            return;
        }
        for suffix in ["'s", "'m", "'d", "'re", "'ve", "'ll"] {
            let k = suffix.chars().count();
            if n > k && norm.ends_with(suffix) {
                let (a, b) = split_chars(&text, n - k);
                self.emit(a);
                self.emit(b);
                return;
            }
        }
        if norm == "y'all" {
            self.emit("y'");
            self.emit("all");
            return;
        }
        self.emit(text);
    }

    /// Punctuation and symbols at the current position.
    fn symbol(&mut self, c: char) {
        let run = |s: &[char], p: usize, set: &[char]| {
            s[p..].iter().take_while(|x| set.contains(x)).count()
        };
        match c {
            '.' => {
                let k = run(self.s, self.pos, &['.']);
                self.emit(if k >= 3 { "..." } else { "." });
                self.pos += if k >= 3 { k } else { 1 };
            }
            '?' | '!' => {
                let k = run(self.s, self.pos, &['?', '!']);
                let t: String = self.s[self.pos..self.pos + k].iter().collect();
                self.emit(t);
                self.pos += k;
            }
            '-' => {
                let k = run(self.s, self.pos, &['-']);
                self.emit(if k >= 2 { "--" } else { "-" });
                self.pos += k;
            }
            '\'' | '`' | '"' => {
                let k = run(self.s, self.pos, &[c]);
                self.emit("''");
                self.pos += k;
            }
            '$' | '€' => self.one("$"),
            '£' => self.one("#"),
            '¢' => self.one("cents"),
            '(' => self.one("-lrb-"),
            ')' => self.one("-rrb-"),
            '[' => self.one("-lsb-"),
            ']' => self.one("-rsb-"),
            '{' => self.one("-lcb-"),
            '}' => self.one("-rcb-"),
            '“' | '”' | '‘' | '’' | '«' | '»' => self.one("''"),
            '…' => self.one("..."),
            '–' | '—' | '―' => self.one("--"),
            '½' => self.one("1/2"),
            '¼' => self.one("1/4"),
            '¾' => self.one("3/4"),
            '‒' | '\u{00AD}' | '\u{200B}' => self.pos += 1,
            '&' => {
                let amp: String = self.s[self.pos..].iter().take(5).collect();
                if amp.eq_ignore_ascii_case("&amp;") {
                    self.emit("&");
                    self.pos += 5;
                } else {
                    self.one("&");
                }
            }
            _ => self.one(&c.to_string()),
        }
    }

    fn one(&mut self, t: &str) {
        self.emit(t);
        self.pos += 1;
    }
}

/// Split a string at a character index.
fn split_chars(s: &str, k: usize) -> (String, String) {
    let byte = s.char_indices().nth(k).map_or(s.len(), |(b, _)| b);
    (s[..byte].to_owned(), s[byte..].to_owned())
}

/// `3.5mm` -> split after `3.5`: digits, a period, digits, then letters.
fn decimal_unit_split(text: &str) -> Option<usize> {
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() && chars[i].is_ascii_digit() {
        i += 1;
    }
    if i == 0 || chars.get(i) != Some(&'.') {
        return None;
    }
    let mut j = i + 1;
    while j < chars.len() && chars[j].is_ascii_digit() {
        j += 1;
    }
    let rest_alpha = j > i + 1 && j < chars.len() && chars[j..].iter().all(|c| c.is_alphabetic());
    rest_alpha.then_some(j)
}
