//! The caption grammar: image content (object, attribute, action, place) and its surface
//! realizations.
//!
//! Every synthetic image has a [`Content`]: one word from each of the four [`SLOTS`]. The
//! word of each slot is drawn from a Zipf-like law `P(k) ∝ (k + 1)^-0.7` over the slot's word
//! list, so some words are common (like "man" or "table" in COCO) and some rare, which gives
//! IDF-weighted metrics (CIDEr) real work.
//!
//! A caption realizes the content with one of [`TEMPLATES`] and, per word, one of its
//! synonymous surface forms ("dog" / "puppy", "on the beach" / "along the shore"). A third
//! of the templates leave out one detail (the attribute, the action or the place); the
//! object is always named. The `C` captions of one image use `C` different templates (a
//! random permutation, cycled when `C` exceeds the number of templates), so they are
//! different sentences about the same scene: captions of one image, and of images with
//! similar content, share words, and n-gram metrics between a retrieved caption and the
//! references mean something.

use super::rng::Rng;

/// The four content slots, in the order used by [`Content::words`].
pub const SLOTS: [&str; 4] = ["object", "attribute", "action", "place"];

/// Objects (nouns); the first form of each entry is its canonical word.
const OBJECTS: &[&[&str]] = &[
    &["man", "guy"],
    &["dog", "puppy"],
    &["woman", "lady"],
    &["cat", "kitten"],
    &["car", "automobile"],
    &["child", "kid"],
    &["bird"],
    &["horse", "pony"],
    &["bus"],
    &["bicycle", "bike"],
    &["train"],
    &["boat"],
    &["airplane", "plane", "jet"],
    &["motorcycle", "motorbike"],
    &["truck"],
    &["elephant"],
    &["giraffe"],
    &["zebra"],
    &["sheep", "lamb"],
    &["cow"],
    &["bear"],
    &["pizza"],
    &["cake"],
    &["sandwich"],
    &["umbrella"],
    &["kite"],
    &["skateboarder", "skater"],
    &["surfer"],
    &["teddy bear", "stuffed bear"],
    &["clock"],
];

/// Attributes (adjectives).
const ATTRIBUTES: &[&[&str]] = &[
    &["white"],
    &["black"],
    &["red"],
    &["small", "little", "tiny"],
    &["large", "big", "huge"],
    &["brown"],
    &["blue"],
    &["green"],
    &["yellow"],
    &["old", "aged"],
    &["young"],
    &["orange"],
    &["gray", "grey"],
    &["pink"],
    &["wet"],
    &["dirty", "muddy"],
    &["shiny"],
    &["striped"],
    &["spotted"],
    &["fluffy", "furry"],
    &["colorful", "bright"],
    &["wooden"],
    &["happy", "cheerful"],
    &["lonely", "lone"],
];

/// Actions (participles, used after the noun or after "is").
const ACTIONS: &[&[&str]] = &[
    &["sitting", "seated"],
    &["standing"],
    &["walking", "strolling"],
    &["running", "jogging"],
    &["lying", "laying"],
    &["playing"],
    &["parked", "stopped"],
    &["waiting"],
    &["eating", "feeding"],
    &["resting", "relaxing"],
    &["jumping", "leaping"],
    &["sleeping", "napping"],
    &["flying", "soaring"],
    &["swimming"],
    &["looking around", "gazing around"],
    &["posing", "posing for a picture"],
    &["moving", "traveling"],
    &["floating", "drifting"],
    &["hiding"],
    &["climbing"],
    &["turning", "turning around"],
    &["spinning"],
    &["riding along", "cruising"],
    &["staring", "watching"],
];

/// Places (prepositional phrases).
const PLACES: &[&[&str]] = &[
    &["on a city street", "on the street", "down a busy street"],
    &["in a field", "in a grassy field", "on the grass"],
    &["on a table", "on the table"],
    &["in a park", "in the park"],
    &["on the beach", "on a sandy beach", "along the shore"],
    &["in the kitchen", "inside a kitchen"],
    &["near a lake", "by the lake"],
    &["in the snow", "on a snowy hill"],
    &["in a living room", "inside the living room"],
    &["at the airport", "on the runway"],
    &["in the water", "in the ocean"],
    &["next to a building", "beside a building"],
    &["in the forest", "among the trees"],
    &["on a bridge", "across the bridge"],
    &["at a train station", "near the platform"],
    &["in a parking lot", "in the lot"],
    &["on the sidewalk", "along the sidewalk"],
    &["at the zoo", "in a zoo enclosure"],
    &["on a farm", "in a barn"],
    &["in the desert", "on the sand dunes"],
    &["under a tree", "beneath a tree"],
    &["at night", "in the dark"],
    &["on a mountain", "on a rocky hill"],
    &["in the rain", "under the rain"],
    &["on a bed", "in the bedroom"],
];

const LEXICON: [&[&[&str]]; 4] = [OBJECTS, ATTRIBUTES, ACTIONS, PLACES];

/// Exponent of the Zipf-like word law `P(k) ∝ (k + 1)^-ZIPF_EXPONENT`.
pub const ZIPF_EXPONENT: f64 = 0.7;

/// Caption templates: `{O}` object, `{A}` attribute, `{V}` action, `{P}` place. The article
/// "a" becomes "an" before a vowel.
pub const TEMPLATES: &[&str] = &[
    "a {A} {O} {V} {P}",
    "the {O} is {V} {P}",
    "there is a {A} {O} {V} {P}",
    "a photo of a {A} {O} {V} {P}",
    "a {O} {V} {P}",
    "a {A} {O} {V}",
    "a {A} {O} {P}",
    "this {A} {O} is {V} {P}",
    "an image of a {A} {O} that is {V} {P}",
    "the {A} {O} {V} {P}",
    "{P} a {A} {O} is {V}",
    "a close up of a {A} {O} {P}",
];

/// Number of words in each slot (objects, attributes, actions, places).
pub fn slot_sizes() -> [usize; 4] {
    LEXICON.map(|l| l.len())
}

/// Total vocabulary size: one latent direction per (slot, word).
pub fn vocabulary_size() -> usize {
    slot_sizes().iter().sum()
}

/// What an image shows: one word index per slot (object, attribute, action, place).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Content {
    /// Word index within each slot, in [`SLOTS`] order.
    pub words: [u16; 4],
}

impl Content {
    /// Draw a content from the Zipf-like word law.
    pub fn sample(rng: &mut Rng) -> Self {
        let mut words = [0u16; 4];
        for (slot, w) in words.iter_mut().enumerate() {
            *w = zipf_index(rng, LEXICON[slot].len()) as u16;
        }
        Content { words }
    }

    /// Canonical words in slot order, e.g. `["dog", "red", "running", "on the beach"]`.
    pub fn canonical(&self) -> [&'static str; 4] {
        std::array::from_fn(|slot| LEXICON[slot][self.words[slot] as usize][0])
    }

    /// All surface forms of the word in `slot`.
    pub fn forms(&self, slot: usize) -> &'static [&'static str] {
        LEXICON[slot][self.words[slot] as usize]
    }

    /// Index of the word of `slot` in the whole vocabulary (slots concatenated).
    pub fn vocabulary_index(&self, slot: usize) -> usize {
        let offset: usize = slot_sizes()[..slot].iter().sum();
        offset + self.words[slot] as usize
    }
}

/// The vocabulary words a caption names, as distinct vocabulary indices (see
/// [`Content::vocabulary_index`]) in order of first mention: the caption is split on
/// whitespace and scanned left to right, each time matching the longest surface form of any
/// word that starts there ("teddy bear" before "bear", "posing for a picture" before
/// "posing"); words that start no form (articles, template words, unknown words) are
/// skipped. Works for any text, e.g. a generated caption.
pub fn named_words(text: &str) -> Vec<usize> {
    let tokens: Vec<&str> = text.split_whitespace().collect();
    let mut named = Vec::new();
    let mut at = 0;
    while at < tokens.len() {
        match longest_form_at(&tokens[at..]) {
            Some((word, len)) => {
                if !named.contains(&word) {
                    named.push(word);
                }
                at += len;
            }
            None => at += 1,
        }
    }
    named
}

/// The vocabulary index and length (in tokens) of the longest surface form that `tokens`
/// starts with.
fn longest_form_at(tokens: &[&str]) -> Option<(usize, usize)> {
    let mut best: Option<(usize, usize)> = None;
    let mut index = 0;
    for slot in LEXICON {
        for forms in slot {
            for form in *forms {
                let len = form.split(' ').count();
                let matches =
                    len <= tokens.len() && form.split(' ').eq(tokens[..len].iter().copied());
                if matches && best.is_none_or(|(_, l)| len > l) {
                    best = Some((index, len));
                }
            }
            index += 1;
        }
    }
    best
}

/// Index `k` in `0..n` with probability `∝ (k + 1)^-ZIPF_EXPONENT` (inverse CDF).
fn zipf_index(rng: &mut Rng, n: usize) -> usize {
    let weight = |k: usize| ((k + 1) as f64).powf(-ZIPF_EXPONENT);
    let total: f64 = (0..n).map(weight).sum();
    let mut u = rng.uniform() * total;
    for k in 0..n {
        u -= weight(k);
        if u < 0.0 {
            return k;
        }
    }
    n - 1
}

/// One realized caption: its text and which slots it names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Realization {
    /// The caption, lower case, words separated by single spaces.
    pub text: String,
    /// `mentioned[slot]`: whether the caption names the word of that slot.
    pub mentioned: [bool; 4],
}

/// The template indices of the `c` captions of one image: a random permutation of all
/// templates, cycled (with a fresh permutation each round) when `c` exceeds their number.
pub fn choose_templates(rng: &mut Rng, c: usize) -> Vec<usize> {
    let mut out = Vec::with_capacity(c);
    while out.len() < c {
        let mut perm: Vec<usize> = (0..TEMPLATES.len()).collect();
        rng.shuffle(&mut perm);
        out.extend(perm.into_iter().take(c - out.len()));
    }
    out
}

/// Realize `content` with template `template`, picking a random surface form per word.
pub fn realize(content: &Content, template: usize, rng: &mut Rng) -> Realization {
    let pattern = TEMPLATES[template];
    let mut mentioned = [false; 4];
    let mut words: Vec<&str> = Vec::with_capacity(16);
    for token in pattern.split(' ') {
        let slot = match token {
            "{O}" => 0,
            "{A}" => 1,
            "{V}" => 2,
            "{P}" => 3,
            plain => {
                words.push(plain);
                continue;
            }
        };
        mentioned[slot] = true;
        let forms = content.forms(slot);
        words.push(forms[rng.below(forms.len())]);
    }
    Realization {
        text: fix_articles(&words),
        mentioned,
    }
}

/// Join words with spaces, turning the article "a" into "an" before a vowel.
fn fix_articles(words: &[&str]) -> String {
    let mut text = String::with_capacity(64);
    for (i, w) in words.iter().enumerate() {
        if i > 0 {
            text.push(' ');
        }
        let next_is_vowel = words
            .get(i + 1)
            .and_then(|n| n.chars().next())
            .is_some_and(|ch| "aeiou".contains(ch));
        if *w == "a" && next_is_vowel {
            text.push_str("an");
        } else {
            text.push_str(w);
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn realizations_name_the_object_and_fix_articles() {
        let content = Content {
            words: [15, 11, 3, 4], // elephant, orange, running, beach
        };
        let mut rng = Rng::new(1);
        for t in 0..TEMPLATES.len() {
            let r = realize(&content, t, &mut rng);
            assert!(r.text.contains("elephant"), "{}", r.text);
            assert!(r.mentioned[0]);
            assert!(!r.text.contains(" a elephant") && !r.text.contains(" a orange"));
            assert!(!r.text.starts_with("a elephant") && !r.text.starts_with("a orange"));
            assert!(r.mentioned.iter().filter(|m| !**m).count() <= 1);
        }
        let r = realize(&content, 0, &mut Rng::new(2));
        assert!(r.text.starts_with("an orange elephant"), "{}", r.text);
    }

    #[test]
    fn templates_of_one_image_are_distinct_up_to_their_number() {
        let mut rng = Rng::new(5);
        let t = choose_templates(&mut rng, 5);
        let mut u = t.clone();
        u.sort();
        u.dedup();
        assert_eq!(u.len(), 5);
        assert_eq!(choose_templates(&mut rng, 30).len(), 30);
    }

    #[test]
    fn named_words_match_the_longest_form_once() {
        let content = Content {
            words: [28, 3, 15, 4], // teddy bear, small, posing, beach
        };
        let idx = |slot| content.vocabulary_index(slot);
        let named = named_words("a tiny stuffed bear posing for a picture along the shore bear");
        assert_eq!(named, vec![idx(1), idx(0), idx(2), idx(3), 20]); // 20 = "bear"
        assert_eq!(named_words("the the of"), Vec::<usize>::new());
        for t in 0..TEMPLATES.len() {
            let r = realize(&content, t, &mut Rng::new(t as u64));
            let mut want: Vec<usize> = (0..4).filter(|&s| r.mentioned[s]).map(idx).collect();
            let mut got = named_words(&r.text);
            want.sort();
            got.sort();
            assert_eq!(got, want, "{}", r.text);
        }
    }

    #[test]
    fn zipf_law_favors_early_words() {
        let mut rng = Rng::new(9);
        let mut counts = [0usize; 30];
        for _ in 0..30_000 {
            counts[zipf_index(&mut rng, 30)] += 1;
        }
        // P(0) / P(29) = 30^0.7 ≈ 10.8
        let ratio = counts[0] as f64 / counts[29] as f64;
        assert!((7.0..16.0).contains(&ratio), "ratio {ratio}");
    }
}
