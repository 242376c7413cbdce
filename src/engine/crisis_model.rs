//! A learned crisis screen beside the phrase patterns and cues of `crisis.rs`.
//!
//! Phrases and cue words caught 30–77% of crisis statements worded in ways they had not seen
//! (held-out sets 8–12). This screen is a logistic regression over the character 1–3-grams of
//! each sentence, so wording it was never given as a phrase still moves it. Its weights are a
//! readable file (`dictionaries/crisis_model.tsv`) that `xinqing train-crisis` learns from the
//! project's crisis sets and sentences of ordinary text; `xinqing eval-crisis` measures it set
//! by set on sets it did not learn from. A text is flagged when its most alarming sentence
//! reaches the file's threshold, and a softmax over the same features, learned on the crisis
//! lines alone, names the tier. Where a pattern or cue matches, its tier stands.

use super::crisis::{sentence_ends, Risk};
use super::table::{FilteredMap, PackedMap};
use anyhow::{bail, Context, Result};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rustc_hash::FxHashMap;
use std::borrow::Cow;

/// The tiers of the tier columns, in order.
pub const TIERS: [Risk; 4] = [
    Risk::Imminent,
    Risk::Ideation,
    Risk::SelfHarm,
    Risk::HarmOthers,
];

/// How many of a flagged sentence's n-grams are named as its risk terms.
const TERMS_SHOWN: usize = 3;

/// A sentence longer than this many characters is read in windows of this length, each
/// starting half a window after the one before, so that every stretch of up to half a window
/// (no crisis sentence of the test sets is longer) lies whole in one of them. Read whole, a
/// "sentence" without punctuation of thousands of characters adds up n-grams from everywhere,
/// and one character repeated ("他他他…") reached the threshold.
pub const WINDOW_CHARS: usize = 60;

/// The sentences of a text, split where the cue detector splits them (。！？；!?; and line ends),
/// each without a hotline note's reporting frame, and a long one in overlapping windows.
pub fn sentences(text: &str) -> impl Iterator<Item = &str> {
    whole_sentences(text).flat_map(|s| windows(s, WINDOW_CHARS / 2))
}

/// The sentences of a text as the screen learns them: a long one in windows that do not
/// overlap (overlapping ones would count the n-grams of each overlap as seen twice), each the
/// length of the windows it is read in, so that its n-grams weigh as they will there.
fn learned_sentences(text: &str) -> impl Iterator<Item = &str> {
    whole_sentences(text).flat_map(|s| windows(s, WINDOW_CHARS))
}

/// The windows of a sentence, each starting `step` characters after the one before: the
/// sentence itself if it is short enough.
fn windows(sentence: &str, step: usize) -> Windows<'_> {
    Windows {
        rest: sentence,
        step,
        done: false,
    }
}

struct Windows<'a> {
    /// The sentence from the next window's start.
    rest: &'a str,
    step: usize,
    done: bool,
}

impl<'a> Iterator for Windows<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        if self.done {
            return None;
        }
        // Fewer bytes than characters in a window cannot hold more characters than one.
        let end = if self.rest.len() > WINDOW_CHARS {
            self.rest.char_indices().nth(WINDOW_CHARS).map(|(i, _)| i)
        } else {
            None
        };
        let Some(end) = end else {
            self.done = true;
            return Some(self.rest);
        };
        let window = &self.rest[..end];
        let next = window.char_indices().nth(self.step).map_or(end, |(i, _)| i);
        self.rest = &self.rest[next..];
        Some(window)
    }
}

fn whole_sentences(text: &str) -> impl Iterator<Item = &str> {
    let mut from = 0;
    sentence_ends(text)
        .into_iter()
        .chain(std::iter::once(text.len()))
        .map(move |end| {
            let sentence = &text[from..end];
            // Past the mark: one ASCII byte or a three-byte fullwidth mark.
            from = (end + text[end..].chars().next().map_or(0, char::len_utf8)).min(text.len());
            sentence
        })
        .map(without_frame)
        .filter(|s| !s.trim().is_empty())
}

/// Where the screen starts to read the sentence that starts at byte `from` of `text`: after the
/// frame it opens with, if any (`without_frame`, which no sentence mark ends).
pub(super) fn frame_end(text: &str, from: usize) -> usize {
    text.len() - without_frame(&text[from..]).len()
}

/// A sentence without the frame a hotline note opens with (来电者称, 来电学生说 …): most crisis
/// lines are notes, so learned with the frame the screen took 来电 itself for a sign of crisis
/// and flagged 18 of 40 ordinary notes it had not learned from.
fn without_frame(sentence: &str) -> &str {
    let s = sentence.trim_start();
    let Some(rest) = s.strip_prefix("来电") else {
        return sentence;
    };
    let rest = ["者", "人", "学生", "老人", "家属", "护士", "医生", "民警"]
        .iter()
        .find_map(|w| rest.strip_prefix(w))
        .unwrap_or(rest);
    ["称", "说", "表示", "自述", "反映", "诉"]
        .iter()
        .find_map(|w| rest.strip_prefix(w))
        .unwrap_or(rest)
}

/// Every character, pair and triple of a sentence, spaces skipped (the patterns read text
/// without spaces too), as one integer each: a character takes 21 bits and is stored plus one,
/// so no key is 0 and an n-gram never equals a shorter one.
#[inline]
pub fn each_ngram(sentence: &str, mut f: impl FnMut(u64)) {
    let (mut a, mut b) = (0u64, 0u64);
    for c in sentence.chars().filter(|&c| !is_space(c)) {
        let c = c as u64 + 1;
        f(c);
        if b != 0 {
            f(b << 21 | c);
        }
        if a != 0 {
            f(a << 42 | b << 21 | c);
        }
        a = b;
        b = c;
    }
}

/// `char::is_whitespace`, without its Unicode table for the characters above U+3000 (no white
/// space lies there), which are nearly all of Chinese text.
#[inline(always)]
pub(super) fn is_space(c: char) -> bool {
    c as u32 <= 0x3000 && c.is_whitespace()
}

/// The text of an n-gram key.
pub fn key_text(key: u64) -> String {
    [key >> 42, key >> 21 & 0x1F_FFFF, key & 0x1F_FFFF]
        .into_iter()
        .filter(|&v| v != 0)
        .filter_map(|v| char::from_u32(v as u32 - 1))
        .collect()
}

/// The key of a one- to three-character n-gram.
pub fn text_key(text: &str) -> Option<u64> {
    let (mut key, mut n) = (0u64, 0);
    for c in text.chars() {
        n += 1;
        if n > 3 {
            return None;
        }
        key = key << 21 | (c as u64 + 1);
    }
    (n > 0).then_some(key)
}

/// One row of the weights file: an n-gram's crisis weight and its tier weights.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub key: u64,
    pub crisis: f32,
    pub tiers: [f32; 4],
}

pub struct CrisisModel {
    /// The crisis weight of each n-gram: every character of a sentence that may reach the
    /// threshold looks up three.
    weights: PackedMap<f32>,
    /// The n-grams of positive weight alone (a few thousand of the fifty thousand, so the
    /// table stays in cache): their sum bounds a sentence's score from above, and a sentence
    /// whose bound stays under the threshold, as most do, needs no look-up in `weights`.
    /// Nearly every n-gram is not among them, which the filter says in one bit.
    positive: FilteredMap<f32>,
    /// Each character's own weight, by code point, across the Basic Multilingual Plane.
    unigrams: Vec<f32>,
    /// Which places of a positive pair or triple each character of that plane takes (`PAIR_FIRST`
    /// …): a pair or triple whose characters do not all take their places there (most of them)
    /// has no positive weight, and the bound skips its look-up.
    places: Vec<u8>,
    bias: f32,
    threshold: f32,
    tier_weights: FxHashMap<u64, [f32; 4]>,
    tier_bias: [f32; 4],
}

/// Places in a positive pair or triple a character may take (`CrisisModel::places`).
const PAIR_FIRST: u8 = 1;
const PAIR_LAST: u8 = 2;
const TRIPLE_FIRST: u8 = 4;
const TRIPLE_MIDDLE: u8 = 8;
const TRIPLE_LAST: u8 = 16;

/// What the n-grams of one block of `WINDOW_CHARS / 2` characters of a sentence may add to a
/// score at most (the bound): each non-space character's own weight and the positive weights
/// of the pair and the triple it ends. A window is two neighbouring blocks; its first character
/// ends no pair of the window, and its first two no triple, so the block keeps those of its
/// first two non-space characters apart to be taken off.
#[derive(Clone, Copy)]
pub(super) struct Block {
    /// Where its first character starts, by byte, in the text being screened.
    start: usize,
    sum: f64,
    /// Non-space characters.
    m: u32,
    /// The pair and triple ceilings of its first two non-space characters (the first `m`).
    heads: [(f32, f32); 2],
}

/// The blocks of a text's sentences, read once: a long sentence's overlapping windows are read
/// from them, not from the text again.
#[derive(Default)]
pub(super) struct Bounds {
    blocks: Vec<Block>,
    /// Each sentence's blocks (a range of `blocks`) and where it ends, by byte.
    sentences: Vec<(u32, u32, usize)>,
}

/// A sentence being read into blocks, character by character (`CrisisModel::read_char`): the
/// two characters before, as keys (code point plus one; 0 for none) and their places, and the
/// block being read. A caller that reads every character for its own ends (the crisis gate)
/// reads them into this as it goes, and the bound costs no pass of its own.
pub(super) struct BoundReader {
    a: u64,
    b: u64,
    place_a: u8,
    place_b: u8,
    /// The block being read (its first character's byte, its sum, non-space characters and
    /// heads), if a character has been read.
    start: usize,
    sum: f64,
    m: u32,
    heads: [(f32, f32); 2],
    /// Characters, spaces too, left in the block; `usize::MAX` before the first.
    left: usize,
    /// Where the sentence's blocks start in `Bounds::blocks`.
    first_block: usize,
}

/// A flagged text: its most alarming sentence's probability, the tier, and the n-grams that
/// weighed most toward crisis.
#[derive(Debug, Clone, PartialEq)]
pub struct Screen {
    pub probability: f32,
    pub risk: Risk,
    pub terms: Vec<String>,
}

/// Each n-gram counts 1/√n in a sentence of n n-grams, as if no sentence were shorter than
/// `MIN_NGRAMS`: a few alarming n-grams in a two-character sentence ("来了") must not outweigh
/// everything.
pub const MIN_NGRAMS: u32 = 40;

fn scale(n: u32) -> f32 {
    1.0 / (n.max(MIN_NGRAMS) as f32).sqrt()
}

fn logistic(z: f32) -> f32 {
    1.0 / (1.0 + (-z).exp())
}

impl CrisisModel {
    /// The model of a weights file, or None when the file holds no weights (a dictionaries
    /// directory turns the screen off with an empty `crisis_model.tsv`).
    pub fn parse(text: &str) -> Result<Option<CrisisModel>> {
        let mut bias = None;
        let mut tier_bias = [0.0; 4];
        let mut threshold = None;
        let mut rows = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim_end();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let at = || format!("crisis_model.tsv line {}", n + 1);
            // Fifty thousand lines are parsed at every start: no vector per line, and the
            // commonest weight (0, three in four) without the float parser.
            let mut fields = [""; 6];
            let mut count = 0;
            let mut from = 0;
            for end in memchr::memchr_iter(b'\t', line.as_bytes()).chain([line.len()]) {
                if let Some(f) = fields.get_mut(count) {
                    *f = &line[from..end];
                }
                count += 1;
                from = end + 1;
            }
            let number = |s: &str| -> Result<f32> {
                if s == "0" {
                    return Ok(0.0);
                }
                s.parse::<f32>()
                    .ok()
                    .filter(|v| v.is_finite())
                    .with_context(|| format!("{}: '{s}' is not a number", at()))
            };
            match fields[0] {
                "__threshold__" if count == 2 => {
                    let t = number(fields[1])?;
                    if !(0.0..=1.0).contains(&t) {
                        bail!("{}: the threshold must lie in [0, 1]", at());
                    }
                    threshold = Some(t);
                }
                _ if count != 6 => bail!(
                    "{}: expected an n-gram and five weights (crisis, then {}), found {count} fields",
                    at(),
                    TIERS.map(Risk::name).join(", "),
                ),
                "__bias__" => {
                    bias = Some(number(fields[1])?);
                    for (b, f) in tier_bias.iter_mut().zip(&fields[2..]) {
                        *b = number(f)?;
                    }
                }
                gram => {
                    let key = text_key(gram).with_context(|| {
                        format!("{}: '{gram}' is not one to three characters", at())
                    })?;
                    let mut tiers = [0.0; 4];
                    for (t, f) in tiers.iter_mut().zip(&fields[2..]) {
                        *t = number(f)?;
                    }
                    rows.push(Row {
                        key,
                        crisis: number(fields[1])?,
                        tiers,
                    });
                }
            }
        }
        if rows.is_empty() {
            return Ok(None);
        }
        let (Some(bias), Some(threshold)) = (bias, threshold) else {
            bail!("crisis_model.tsv: weights without a __bias__ and a __threshold__ line");
        };
        Ok(Some(CrisisModel::from_rows(
            &rows, bias, tier_bias, threshold,
        )))
    }

    fn from_rows(rows: &[Row], bias: f32, tier_bias: [f32; 4], threshold: f32) -> CrisisModel {
        let crisis: Vec<(u64, f32)> = rows
            .iter()
            .filter(|r| r.crisis != 0.0)
            .map(|r| (r.key, r.crisis))
            .collect();
        let positive: Vec<(u64, f32)> = crisis.iter().copied().filter(|&(_, w)| w > 0.0).collect();
        CrisisModel {
            positive: FilteredMap::new(positive.iter().copied()),
            unigrams: {
                let mut unigrams = vec![0.0; 0x1_0000];
                for &(key, w) in &crisis {
                    if let Some(u) = unigrams.get_mut(key.wrapping_sub(1) as usize) {
                        *u = w;
                    }
                }
                unigrams
            },
            places: {
                let mut places = vec![0u8; 0x1_0000];
                for &(key, _) in &positive {
                    let chars = [key >> 42, key >> 21 & 0x1F_FFFF, key & 0x1F_FFFF];
                    let marks: [u8; 3] = match chars {
                        [0, 0, _] => continue,
                        [0, _, _] => [0, PAIR_FIRST, PAIR_LAST],
                        _ => [TRIPLE_FIRST, TRIPLE_MIDDLE, TRIPLE_LAST],
                    };
                    for (c, mark) in chars.into_iter().zip(marks) {
                        if let Some(p) = places.get_mut((c as usize).wrapping_sub(1)) {
                            *p |= mark;
                        }
                    }
                }
                places
            },
            weights: PackedMap::new(crisis),
            bias,
            threshold,
            tier_weights: rows
                .iter()
                .filter(|r| r.tiers.iter().any(|&t| t != 0.0))
                .map(|r| (r.key, r.tiers))
                .collect(),
            tier_bias,
        }
    }

    /// The probability that a sentence is a crisis statement.
    pub fn probability(&self, sentence: &str) -> f32 {
        let (sum, n) = self.sum(sentence);
        if n == 0 {
            return 0.0;
        }
        logistic(self.bias + sum * scale(n))
    }

    /// Whether a sentence of at most `WINDOW_CHARS` characters may reach the threshold: its
    /// characters' own weights plus only the positive weights of its pairs and triples bound
    /// its score from above.
    #[cfg(test)]
    fn may_reach_threshold(&self, sentence: &str) -> bool {
        let mut bounds = Bounds::default();
        self.read_sentence(sentence, 0, &mut bounds);
        assert!(bounds.blocks.len() <= 2);
        self.window_reaches(&bounds.blocks, 0)
    }

    /// A reader of the next sentence into `bounds`.
    #[inline(always)]
    pub(super) fn reader(&self, bounds: &Bounds) -> BoundReader {
        BoundReader {
            a: 0,
            b: 0,
            place_a: 0,
            place_b: 0,
            start: 0,
            sum: 0.0,
            m: 0,
            heads: [(0.0, 0.0); 2],
            left: usize::MAX,
            first_block: bounds.blocks.len(),
        }
    }

    /// Reads the sentence's next character `c`, which starts at byte `at` of the text: its own
    /// weight and the positive weights of the pair and the triple it ends go to the block's sum
    /// (see `Block`).
    #[inline(always)]
    pub(super) fn read_char(&self, r: &mut BoundReader, at: usize, c: char, out: &mut Bounds) {
        if r.left == 0 || r.left == usize::MAX {
            if r.left == 0 {
                out.blocks.push(Block {
                    start: r.start,
                    sum: r.sum,
                    m: r.m,
                    heads: r.heads,
                });
                (r.sum, r.m) = (0.0, 0);
            }
            r.start = at;
            r.left = WINDOW_CHARS / 2;
        }
        r.left -= 1;
        if is_space(c) {
            return;
        }
        let k = c as u64 + 1;
        // Above the plane every place is possible: the look-ups decide.
        let place = self.places.get(c as usize).copied().unwrap_or(u8::MAX);
        let own = match self.unigrams.get(c as usize) {
            Some(&w) => w,
            None => self.positive.get(k).unwrap_or(0.0),
        };
        // The first character ends no pair (place_b is 0), the first two no triple.
        let pair = if r.place_b & PAIR_FIRST != 0 && place & PAIR_LAST != 0 {
            self.positive.get(r.b << 21 | k).unwrap_or(0.0)
        } else {
            0.0
        };
        let triple = if r.place_a & TRIPLE_FIRST != 0
            && r.place_b & TRIPLE_MIDDLE != 0
            && place & TRIPLE_LAST != 0
        {
            self.positive.get(r.a << 42 | r.b << 21 | k).unwrap_or(0.0)
        } else {
            0.0
        };
        r.sum += f64::from(own);
        r.sum += f64::from(pair);
        r.sum += f64::from(triple);
        if r.m < 2 {
            r.heads[r.m as usize] = (pair, triple);
        }
        r.m += 1;
        (r.a, r.b, r.place_a, r.place_b) = (r.b, k, r.place_b, place);
    }

    /// Closes the sentence `r` read, which ends at byte `end` of the text, and readies `r` for
    /// the next.
    #[inline(always)]
    pub(super) fn end_sentence(&self, r: &mut BoundReader, end: usize, out: &mut Bounds) {
        if r.left != usize::MAX {
            out.blocks.push(Block {
                start: r.start,
                sum: r.sum,
                m: r.m,
                heads: r.heads,
            });
            out.sentences
                .push((r.first_block as u32, out.blocks.len() as u32, end));
        }
        *r = self.reader(out);
    }

    /// Reads `sentence`, which starts at byte `offset` of the text, into `out`.
    #[inline(never)]
    fn read_sentence(&self, sentence: &str, offset: usize, out: &mut Bounds) {
        let mut r = self.reader(out);
        for (i, c) in sentence.char_indices() {
            self.read_char(&mut r, offset + i, c, out);
        }
        self.end_sentence(&mut r, offset + sentence.len(), out);
    }

    /// The blocks of the sentences of `text`, as `whole_sentences` gives them.
    pub(super) fn bounds(&self, text: &str) -> Bounds {
        let mut out = Bounds::default();
        for whole in whole_sentences(text) {
            let offset = whole.as_ptr() as usize - text.as_ptr() as usize;
            self.read_sentence(whole, offset, &mut out);
        }
        out
    }

    /// Whether the window starting at block `first` (that block and the next, if any) may
    /// reach the threshold.
    fn window_reaches(&self, blocks: &[Block], first: usize) -> bool {
        let window = &blocks[first..blocks.len().min(first + 2)];
        let m: u32 = window.iter().map(|b| b.m).sum();
        if m == 0 {
            return false;
        }
        let mut sum: f64 = window.iter().map(|b| b.sum).sum();
        // What the window's first two non-space characters end outside it (nothing at the
        // start of a sentence).
        let mut heads = window.iter().flat_map(|b| &b.heads[..b.m.min(2) as usize]);
        if let Some(&(pair, triple)) = heads.next() {
            sum -= f64::from(pair) + f64::from(triple);
        }
        if let Some(&(_, triple)) = heads.next() {
            sum -= f64::from(triple);
        }
        // m characters make m n-grams of one, m − 1 of two and m − 2 of three.
        let n = (3 * m).saturating_sub(3).max(1);
        // A margin for rounding: the exact score sums other terms in another order.
        logistic(self.bias + sum as f32 * scale(n) + 1e-4) >= self.threshold
    }

    /// The sum of a sentence's n-gram weights and how many n-grams there were.
    #[inline(always)]
    fn sum(&self, sentence: &str) -> (f32, u32) {
        let (mut sum, mut n) = (0.0f32, 0u32);
        each_ngram(sentence, |k| {
            // A character's key is its code point plus one.
            let own = (k as usize)
                .checked_sub(1)
                .and_then(|c| self.unigrams.get(c));
            sum += own
                .copied()
                .unwrap_or_else(|| self.weights.get(k).unwrap_or(0.0));
            n += 1;
        });
        (sum, n)
    }

    /// The highest probability of any sentence of a text.
    pub fn max_probability(&self, text: &str) -> f32 {
        sentences(text)
            .map(|s| self.probability(s))
            .fold(0.0, f32::max)
    }

    /// The screen's finding on a (normalised) text, if some sentence reaches the threshold.
    pub fn screen(&self, text: &str) -> Option<Screen> {
        self.screen_masked(text, &|s| Cow::Borrowed(s))
    }

    /// `screen`, reading each sentence through `mask` (which masks the hard negatives, as the
    /// screen learned them). Only the sentences whose bound, unmasked, may reach the threshold
    /// are masked: masking every sentence tripled the time crisis detection takes. A mask
    /// seldom raises a sentence's score (it removes wording the screen learned as ordinary
    /// where its pattern matched), and `eval-crisis` measures the screen this way.
    pub fn screen_masked<'t>(
        &self,
        text: &'t str,
        mask: &dyn Fn(&'t str) -> Cow<'t, str>,
    ) -> Option<Screen> {
        self.screen_bounds(text, &self.bounds(text), mask)
    }

    /// `screen_masked`, with the blocks of `text`'s sentences read already.
    pub(super) fn screen_bounds<'t>(
        &self,
        text: &'t str,
        bounds: &Bounds,
        mask: &dyn Fn(&'t str) -> Cow<'t, str>,
    ) -> Option<Screen> {
        let mut best: Option<(f32, Cow<'t, str>)> = None;
        for &(from, to, end) in &bounds.sentences {
            let blocks = &bounds.blocks[from as usize..to as usize];
            // The windows of `windows`: block k and the next, until one reaches the end.
            for first in 0..blocks.len() {
                let last = first + 2 >= blocks.len();
                if self.window_reaches(blocks, first) {
                    let until = if last { end } else { blocks[first + 2].start };
                    let s = mask(&text[blocks[first].start..until]);
                    let p = self.probability(&s);
                    if p >= self.threshold && best.as_ref().is_none_or(|(q, _)| p > *q) {
                        best = Some((p, s));
                    }
                }
                if last {
                    break;
                }
            }
        }
        let (probability, sentence) = best?;
        let sentence: &str = &sentence;
        // The tier's softmax and the terms that weighed most toward crisis, on that sentence.
        let mut tier_sums = [0.0f32; 4];
        let mut pushes: Vec<(f32, u64)> = Vec::new();
        let mut singles: Vec<(f32, u64)> = Vec::new();
        let mut n = 0u32;
        each_ngram(sentence, |k| {
            n += 1;
            if let Some(w) = self.tier_weights.get(&k) {
                for (sum, w) in tier_sums.iter_mut().zip(w) {
                    *sum += w;
                }
            }
            let w = self.weights.get(k).unwrap_or(0.0);
            // Pairs and triples name the wording; a lone 我 or 想 explains nothing, unless
            // nothing else weighed in ("他他他…").
            if w > 0.0 {
                if k > 0x1F_FFFF {
                    pushes.push((w, k));
                } else {
                    singles.push((w, k));
                }
            }
        });
        if pushes.is_empty() {
            pushes = singles;
        }
        let z: Vec<f32> = (0..4)
            .map(|t| self.tier_bias[t] + tier_sums[t] * scale(n))
            .collect();
        let best_tier = (0..4).max_by(|&a, &b| z[a].total_cmp(&z[b])).unwrap_or(1);
        pushes.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        pushes.dedup_by_key(|p| p.1);
        Some(Screen {
            probability,
            risk: TIERS[best_tier],
            terms: pushes
                .iter()
                .take(TERMS_SHOWN)
                .map(|&(_, k)| key_text(k))
                .collect(),
        })
    }
}

/// A labelled text for the screen. A line of a crisis set is learned whole; ordinary text
/// (`whole: false`) sentence by sentence, since the screen reads sentences.
#[derive(Debug, Clone)]
pub struct CrisisExample {
    pub text: String,
    pub risk: Risk,
    pub whole: bool,
}

#[derive(Debug, Clone)]
pub struct CrisisTrainOptions {
    pub epochs: usize,
    pub learning_rate: f32,
    pub l2: f32,
    /// An n-gram must occur in this many training units to get a weight.
    pub min_docs: usize,
    pub seed: u64,
    pub threshold: f32,
}

impl Default for CrisisTrainOptions {
    fn default() -> Self {
        // Chosen by `eval-crisis` on the main set and sets 3–12 (the thirteenth played no
        // part): l2 1e-3 and threshold 0.6 gave leave-one-set-out recall 0.902, precision
        // 0.968, with 0.13% / 0.34% of other hotel reviews / Weibo posts flagged; 1e-5 flagged
        // ten times as many short Weibo lines ("来了").
        CrisisTrainOptions {
            epochs: 30,
            learning_rate: 0.2,
            l2: 1e-3,
            min_docs: 2,
            seed: 11,
            threshold: 0.6,
        }
    }
}

/// A training unit: its features by vocabulary id with their values, and its label.
struct Unit {
    features: Vec<(usize, f32)>,
    /// Index into `TIERS`, or None for "not a crisis".
    tier: Option<usize>,
}

fn unit_keys(text: &str) -> Vec<u64> {
    let mut keys = Vec::new();
    for s in learned_sentences(text) {
        each_ngram(s, |k| keys.push(k));
    }
    keys
}

/// Learns the screen: a class-balanced logistic regression for crisis against not, and a
/// softmax over the four tiers on the crisis units, both by AdaGrad over the same features.
pub fn train(examples: &[CrisisExample], opts: &CrisisTrainOptions) -> (Vec<Row>, f32, [f32; 4]) {
    let mut raw: Vec<(Vec<u64>, Option<usize>)> = Vec::new();
    for e in examples {
        let tier = TIERS.iter().position(|&t| t == e.risk);
        if e.whole {
            raw.push((unit_keys(&e.text), tier));
        } else {
            for s in learned_sentences(&e.text) {
                let mut keys = Vec::new();
                each_ngram(s, |k| keys.push(k));
                raw.push((keys, tier));
            }
        }
    }
    raw.retain(|(keys, _)| !keys.is_empty());
    let mut doc_freq: FxHashMap<u64, usize> = FxHashMap::default();
    for (keys, _) in &raw {
        let mut seen = keys.clone();
        seen.sort_unstable();
        seen.dedup();
        for k in seen {
            *doc_freq.entry(k).or_default() += 1;
        }
    }
    let mut vocabulary: Vec<u64> = doc_freq
        .into_iter()
        .filter(|&(_, n)| n >= opts.min_docs)
        .map(|(k, _)| k)
        .collect();
    vocabulary.sort_unstable();
    let ids: FxHashMap<u64, usize> = vocabulary
        .iter()
        .enumerate()
        .map(|(i, &k)| (k, i))
        .collect();
    let mut units: Vec<Unit> = raw
        .iter()
        .map(|(keys, tier)| {
            // Every occurrence counts toward the scale, known or not, as in scoring.
            let x = scale(keys.len() as u32);
            let mut merged: FxHashMap<usize, f32> = FxHashMap::default();
            for k in keys {
                if let Some(&id) = ids.get(k) {
                    *merged.entry(id).or_default() += x;
                }
            }
            let mut features: Vec<(usize, f32)> = merged.into_iter().collect();
            features.sort_unstable_by_key(|f| f.0);
            Unit {
                features,
                tier: *tier,
            }
        })
        .collect();

    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    // Crisis against not, classes weighted to balance: crisis lines are a few hundred among
    // tens of thousands of ordinary sentences, and recall comes first.
    let positives = units.iter().filter(|u| u.tier.is_some()).count().max(1) as f32;
    let negatives = (units.len() as f32 - positives).max(1.0);
    let total = units.len() as f32;
    let (w_pos, w_neg) = (total / (2.0 * positives), total / (2.0 * negatives));
    let mut weights = vec![0.0f32; vocabulary.len()];
    let mut squared = vec![1e-6f32; vocabulary.len()];
    let (mut bias, mut bias_squared) = (0.0f32, 1e-6f32);
    for _ in 0..opts.epochs {
        units.shuffle(&mut rng);
        for u in &units {
            let z = bias + u.features.iter().map(|(i, x)| weights[*i] * x).sum::<f32>();
            let positive = u.tier.is_some();
            let g = (logistic(z) - if positive { 1.0 } else { 0.0 })
                * if positive { w_pos } else { w_neg };
            for &(i, x) in &u.features {
                let grad = g * x + opts.l2 * weights[i];
                squared[i] += grad * grad;
                weights[i] -= opts.learning_rate * grad / squared[i].sqrt();
            }
            bias_squared += g * g;
            bias -= opts.learning_rate * g / bias_squared.sqrt();
        }
    }

    // The tier among crisis units, classes weighted to balance.
    let crisis_units: Vec<&Unit> = units.iter().filter(|u| u.tier.is_some()).collect();
    let mut per_tier = [0f32; 4];
    for u in &crisis_units {
        per_tier[u.tier.unwrap_or(0)] += 1.0;
    }
    let n_crisis = crisis_units.len() as f32;
    let tier_weight = per_tier.map(|c| if c > 0.0 { n_crisis / (4.0 * c) } else { 0.0 });
    let mut tier_w = vec![[0.0f32; 4]; vocabulary.len()];
    let mut tier_sq = vec![[1e-6f32; 4]; vocabulary.len()];
    let (mut tier_b, mut tier_b_sq) = ([0.0f32; 4], [1e-6f32; 4]);
    let mut order: Vec<usize> = (0..crisis_units.len()).collect();
    for _ in 0..opts.epochs {
        order.shuffle(&mut rng);
        for &j in &order {
            let u = crisis_units[j];
            let gold = u.tier.unwrap_or(0);
            let mut z = tier_b;
            for &(i, x) in &u.features {
                for (t, zt) in z.iter_mut().enumerate() {
                    *zt += tier_w[i][t] * x;
                }
            }
            let max = z.iter().copied().fold(f32::MIN, f32::max);
            let e = z.map(|v| (v - max).exp());
            let sum: f32 = e.iter().sum();
            for t in 0..4 {
                let g = (e[t] / sum - if t == gold { 1.0 } else { 0.0 }) * tier_weight[gold];
                for &(i, x) in &u.features {
                    let grad = g * x + opts.l2 * tier_w[i][t];
                    tier_sq[i][t] += grad * grad;
                    tier_w[i][t] -= opts.learning_rate * grad / tier_sq[i][t].sqrt();
                }
                tier_b_sq[t] += g * g;
                tier_b[t] -= opts.learning_rate * g / tier_b_sq[t].sqrt();
            }
        }
    }

    let round = |v: f32| (v * 1000.0).round() / 1000.0;
    let rows = vocabulary
        .iter()
        .enumerate()
        .map(|(i, &key)| Row {
            key,
            crisis: round(weights[i]),
            tiers: tier_w[i].map(round),
        })
        .filter(|r| r.crisis != 0.0 || r.tiers.iter().any(|&t| t != 0.0))
        .collect();
    (rows, round(bias), tier_b.map(round))
}

/// The weights as a readable file, heaviest toward crisis first.
pub fn render(
    rows: &[Row],
    bias: f32,
    tier_bias: [f32; 4],
    threshold: f32,
    provenance: &str,
) -> String {
    use std::fmt::Write;
    let mut rows: Vec<&Row> = rows.iter().collect();
    rows.sort_by(|a, b| b.crisis.total_cmp(&a.crisis).then(a.key.cmp(&b.key)));
    let mut out = String::new();
    for line in provenance.lines() {
        let _ = writeln!(out, "# {line}");
    }
    let _ = writeln!(
        out,
        "# n-gram\tcrisis weight\ttier weights: {}\n# A sentence's probability is the logistic of the bias plus the sum of its n-grams' weights over √(number of n-grams).",
        TIERS.map(Risk::name).join("\t")
    );
    let _ = writeln!(out, "__threshold__\t{threshold}");
    let line = |out: &mut String, name: &str, c: f32, t: [f32; 4]| {
        let _ = writeln!(out, "{name}\t{c}\t{}\t{}\t{}\t{}", t[0], t[1], t[2], t[3]);
    };
    line(&mut out, "__bias__", bias, tier_bias);
    for r in rows {
        line(&mut out, &key_text(r.key), r.crisis, r.tiers);
    }
    out
}

/// Trains and returns the model as it will be read back from its file (weights rounded).
pub fn train_model(examples: &[CrisisExample], opts: &CrisisTrainOptions) -> CrisisModel {
    let (rows, bias, tier_bias) = train(examples, opts);
    CrisisModel::from_rows(&rows, bias, tier_bias, opts.threshold)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_start_every_half_window_of_characters_after_the_frame() {
        let model = shipped_model();
        // Characters of one, three and four bytes, and spaces, which blocks count as
        // characters: 120 characters, four blocks.
        let sentence = "a烧😀死 b".repeat(20);
        let text = format!("来电者称{sentence}。好");
        let frame = "来电者称".len();
        let bounds = model.bounds(&text);
        let starts: Vec<usize> = bounds.blocks.iter().map(|b| b.start).collect();
        let mut expected: Vec<usize> = sentence
            .char_indices()
            .step_by(WINDOW_CHARS / 2)
            .map(|(b, _)| frame + b)
            .collect();
        expected.push(text.len() - "好".len());
        assert_eq!(starts, expected);
        assert_eq!(
            bounds.sentences,
            [(0, 4, frame + sentence.len()), (4, 5, text.len())]
        );
    }

    #[test]
    fn a_long_sentence_that_reaches_everywhere_is_screened_window_by_window() {
        // Every window of this sentence reaches the threshold. Each window's bytes are found
        // from the one before, and the finding is that of the sentence's first window.
        let model = shipped_model();
        let long = "烧死".repeat(3 * WINDOW_CHARS);
        let first: String = long.chars().take(WINDOW_CHARS).collect();
        let (whole, alone) = (model.screen(&long), model.screen(&first));
        assert!(alone.is_some());
        assert_eq!(whole.map(|s| s.probability), alone.map(|s| s.probability));
    }

    #[test]
    fn a_long_sentence_is_read_in_overlapping_windows_that_cover_it() {
        let short: String = "我".repeat(WINDOW_CHARS);
        assert_eq!(
            windows(&short, WINDOW_CHARS / 2).collect::<Vec<_>>(),
            [&short]
        );
        // 130 distinct characters, so that every stretch can be found by its text.
        let long: String = (0..130u32)
            .map(|i| char::from_u32(0x4E00 + i).unwrap())
            .collect();
        let read: Vec<&str> = windows(&long, WINDOW_CHARS / 2).collect();
        assert!(read.iter().all(|w| w.chars().count() <= WINDOW_CHARS));
        assert!(read.len() >= 3);
        // Every stretch of half a window lies whole in some window.
        let chars: Vec<char> = long.chars().collect();
        for start in 0..=chars.len() - WINDOW_CHARS / 2 {
            let stretch: String = chars[start..start + WINDOW_CHARS / 2].iter().collect();
            assert!(read.iter().any(|w| w.contains(&stretch)), "{start}");
        }
        // Learned, the same sentence is cut into windows that do not overlap.
        let learned: Vec<&str> = learned_sentences(&long).collect();
        assert_eq!(learned.concat(), long);
        assert!(learned.iter().all(|w| w.chars().count() <= WINDOW_CHARS));
    }

    #[test]
    fn a_screened_sentence_always_names_its_words() {
        // Only a character of its own weighs toward crisis: the alert once came with no words.
        let model = CrisisModel::parse(
            "__threshold__\t0.6\n__bias__\t-1\t0\t0\t0\t0\n他\t0.5\t0\t0\t0\t1\n",
        )
        .unwrap()
        .unwrap();
        let s = model.screen(&"他".repeat(400)).expect("flagged");
        assert_eq!(s.terms, ["他"]);
        assert!(model.screen("他来了").is_none());
    }

    #[test]
    fn sentences_lose_the_reporting_frame() {
        let got: Vec<&str> =
            sentences("来电者称不想活了。来电学生说考砸了！来电时间很晚；我很累").collect();
        assert_eq!(got, ["不想活了", "考砸了", "时间很晚", "我很累"]);
    }

    #[test]
    fn ngram_keys_round_trip_and_never_collide() {
        let mut keys = Vec::new();
        each_ngram("不想 活了", |k| keys.push(k));
        let texts: Vec<String> = keys.iter().map(|&k| key_text(k)).collect();
        assert_eq!(
            texts,
            [
                "不",
                "想",
                "不想",
                "活",
                "想活",
                "不想活",
                "了",
                "活了",
                "想活了"
            ]
        );
        for (k, t) in keys.iter().zip(&texts) {
            assert_eq!(text_key(t), Some(*k));
        }
        // A character whose code is 0 still makes distinct keys.
        let mut with_nul = Vec::new();
        each_ngram("\u{0}a", |k| with_nul.push(k));
        with_nul.sort_unstable();
        with_nul.dedup();
        assert_eq!(with_nul.len(), 3);
        assert_eq!(text_key(""), None);
        assert_eq!(text_key("一二三四"), None);
    }

    /// The bound must never pass over a sentence the exact score would flag: checked on every
    /// line of the crisis sets and on sentences packed with the model's own alarming n-grams.
    /// The shipped model.
    fn shipped_model() -> CrisisModel {
        CrisisModel::parse(include_str!("../../dictionaries/crisis_model.tsv"))
            .unwrap()
            .expect("the shipped model has weights")
    }

    /// The text of every line of the crisis sets (`tests/data/crisis_*.tsv`).
    fn crisis_set_lines() -> Vec<String> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
        let mut lines = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if !(name.starts_with("crisis_") && name.ends_with(".tsv")) {
                continue;
            }
            let text = std::fs::read_to_string(path).unwrap();
            lines.extend(
                text.lines()
                    .filter(|l| !l.starts_with('#'))
                    .map(|l| l.split_once('\t').map_or(l, |(_, t)| t).to_string()),
            );
        }
        lines
    }

    #[test]
    fn the_bound_passes_over_no_sentence_that_reaches_the_threshold() {
        let model = shipped_model();
        let mut sentences_seen: Vec<String> = crisis_set_lines()
            .iter()
            .flat_map(|line| sentences(line).map(str::to_string).collect::<Vec<_>>())
            .collect();
        // Sentences made of the heaviest n-grams, with neutral and alarming ones interleaved,
        // so that many sit near the threshold from both sides.
        let mut heavy: Vec<(f32, u64)> = include_str!("../../dictionaries/crisis_model.tsv")
            .lines()
            .filter_map(|l| {
                let mut f = l.split('\t');
                let key = text_key(f.next()?)?;
                Some((f.next()?.parse().ok()?, key))
            })
            .collect();
        heavy.sort_by(|a, b| b.0.total_cmp(&a.0));
        let filler = ["房间", "我们", "今天", "服务", "，"];
        for (i, window) in heavy.windows(3).take(600).enumerate() {
            let mut s = String::new();
            for (j, &(_, k)) in window.iter().enumerate() {
                s.push_str(&key_text(k));
                s.push_str(filler[(i + j) % filler.len()]);
            }
            for _ in 0..i % 4 {
                s.push_str("酒店的早餐还可以");
            }
            sentences_seen.push(s);
        }
        let (mut flagged, mut skipped) = (0, 0);
        for s in &sentences_seen {
            let exact = model.probability(s) >= model.threshold;
            let may = model.may_reach_threshold(s);
            assert!(
                may || !exact,
                "the bound passed over a flagged sentence: {s}"
            );
            flagged += usize::from(exact);
            skipped += usize::from(!may);
        }
        assert!(
            flagged > 300,
            "{flagged} flagged: the check must include flagged sentences"
        );
        assert!(
            skipped > 300,
            "{skipped} skipped: the bound must rule sentences out"
        );
    }

    /// The screen reads a long sentence's windows through the blocks found once for the
    /// whole sentence: it must find what reading each window of `sentences` alone finds.
    #[test]
    fn the_screen_finds_the_windows_that_sentences_give() {
        let model = shipped_model();
        let lines = crisis_set_lines();
        // Long sentences without a mark, some with spaces (the windows count them as
        // characters, the n-grams skip them), so that windows overlap and end anywhere.
        let mut texts = lines.clone();
        for (i, group) in lines.chunks(4).enumerate() {
            let strip = |l: &String| l.replace(['。', '！', '？', '；', '!', '?', ';'], "，");
            let joined: Vec<String> = group.iter().map(strip).collect();
            texts.push(joined.join(if i % 2 == 0 { " " } else { "" }));
        }
        let (mut flagged, mut long) = (0, 0);
        for text in &texts {
            let expected = sentences(text)
                .map(|s| model.probability(s))
                .filter(|&p| p >= model.threshold)
                .fold(None, |best: Option<f32>, p| {
                    Some(best.map_or(p, |b| b.max(p)))
                });
            let found = model.screen(text).map(|s| s.probability);
            assert_eq!(found, expected, "{text}");
            flagged += usize::from(found.is_some());
            long += usize::from(whole_sentences(text).any(|s| s.chars().count() > WINDOW_CHARS));
        }
        assert!(
            flagged > 300 && long > 100,
            "{flagged} flagged, {long} long"
        );
    }

    #[test]
    fn learns_wording_it_was_not_given_as_a_phrase() {
        let mut examples = Vec::new();
        for t in [
            "我不想活了",
            "活着没意思，不想活了",
            "真的不想再活下去",
            "我想结束自己的生命",
            "想结束这一切",
        ] {
            examples.push(CrisisExample {
                text: t.into(),
                risk: Risk::Ideation,
                whole: true,
            });
        }
        for t in [
            "今天天气很好。我们去公园玩了。",
            "房间很干净，服务也不错。",
            "结束了一天的工作，好累。",
            "疫情什么时候结束啊。",
            "我想吃火锅。",
            "活动很精彩，下次还来。",
        ] {
            examples.push(CrisisExample {
                text: t.into(),
                risk: Risk::None,
                whole: false,
            });
        }
        let opts = CrisisTrainOptions {
            min_docs: 1,
            ..Default::default()
        };
        let model = train_model(&examples, &opts);
        let flagged = model.screen("其实我早就不想活下去了").expect("flagged");
        assert_eq!(flagged.risk, Risk::Ideation);
        assert!(
            flagged.terms.iter().any(|t| t.contains('活')),
            "{flagged:?}"
        );
        assert!(model.screen("今天的活动很好玩。").is_none());
        // The file round-trips.
        let (rows, bias, tier_bias) = train(&examples, &opts);
        let text = render(&rows, bias, tier_bias, 0.5, "test");
        let parsed = CrisisModel::parse(&text).unwrap().unwrap();
        assert_eq!(
            parsed.screen("其实我早就不想活下去了"),
            model.screen("其实我早就不想活下去了")
        );
    }

    #[test]
    fn a_file_without_weights_turns_the_screen_off_and_bad_lines_are_named() {
        assert!(CrisisModel::parse("# nothing\n").unwrap().is_none());
        let err =
            CrisisModel::parse("__threshold__\t0.5\n__bias__\t0\t0\t0\t0\t0\n死\tx\t0\t0\t0\t0\n")
                .err()
                .unwrap();
        assert!(format!("{err:#}").contains("line 3"), "{err:#}");
        let err = CrisisModel::parse("__bias__\t0\t0\t0\t0\t0\n四个字符\t1\t0\t0\t0\t0\n")
            .err()
            .unwrap();
        assert!(format!("{err:#}").contains("line 2"), "{err:#}");
    }
}
