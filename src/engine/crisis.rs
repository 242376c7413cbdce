//! Crisis risk from phrase patterns (dictionaries/crisis.toml), matched on normalised text
//! without spaces so that segmentation cannot split a phrase. Hard negatives are masked first.
//!
//! Phrase patterns alone caught about a third of crisis statements worded in ways they had not
//! seen, so a second detector combines cues within a sentence: a means of suicide with a place,
//! a death word or an overdose; a wish with a death word; a self-injuring act with a tool or an
//! injury; a violent act with a person or place. The cue words are in `[cues]` of the same
//! file; the rules are `CueRules::tier` below. A text takes the higher tier of the two.

use super::crisis_model::{frame_end, is_space, Bounds, CrisisModel, Screen};
use super::gate::LiteralGate;
use anyhow::{Context, Result};
use regex::{Regex, RegexBuilder};
use serde::Deserialize;
use std::borrow::Cow;
use std::sync::OnceLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Risk {
    None,
    Ideation,
    HarmOthers,
    SelfHarm,
    Imminent,
}

impl Risk {
    pub fn name(self) -> &'static str {
        match self {
            Risk::None => "none",
            Risk::Ideation => "ideation",
            Risk::HarmOthers => "harm_others",
            Risk::SelfHarm => "self_harm",
            Risk::Imminent => "imminent",
        }
    }

    pub fn parse(s: &str) -> Option<Risk> {
        [
            Risk::None,
            Risk::Ideation,
            Risk::HarmOthers,
            Risk::SelfHarm,
            Risk::Imminent,
        ]
        .into_iter()
        .find(|r| r.name() == s)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PatternList {
    patterns: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CrisisFile {
    imminent: PatternList,
    self_harm: PatternList,
    harm_others: PatternList,
    ideation: PatternList,
    negatives: NegativeList,
    #[serde(default)]
    cues: std::collections::BTreeMap<String, Vec<String>>,
    #[serde(default)]
    cue_other_senses: Option<WordList>,
    /// Dialect words and the Mandarin the detectors read them as.
    #[serde(default)]
    dialect: std::collections::BTreeMap<String, String>,
}

/// The hard negatives, and the wording that holds one but is a crisis's own.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NegativeList {
    patterns: Vec<String>,
    /// Kept as written where a mask would take it out: "想被车撞死" holds the news's "被车撞死".
    #[serde(default)]
    keep: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WordList {
    words: Vec<String>,
}

impl CrisisFile {
    /// Every pattern of the four tiers.
    fn tier_patterns(&self) -> impl Iterator<Item = &String> {
        [
            &self.imminent,
            &self.self_harm,
            &self.harm_others,
            &self.ideation,
        ]
        .into_iter()
        .flat_map(|l| l.patterns.iter())
    }
}

/// The cue categories of `[cues]`, one bit each.
const CUES: [&str; 19] = [
    "death",
    "wish",
    "sleep",
    "burden",
    "first",
    "self",
    "means",
    "place",
    "overdose",
    "seal",
    "tie",
    "hang",
    "countdown",
    "self_act",
    "body",
    "tool",
    "injury",
    "harm_act",
    "harm_target",
];

/// Who speaks is a property of the sentence, not of the words near the act: these count
/// anywhere within `SPEAKER_REACH`, farther than the other cues' `CUE_WINDOW`.
const SENTENCE_WIDE: u32 = bit("first") | bit("self");

/// A death word found inside a violent act's word (the 死 of 烧死), set in place of `death`.
const ACT_DEATH: u32 = 1 << CUES.len();

/// How far (in bytes: 40 CJK characters, longer than any crisis sentence of the test sets) the
/// speaker counts from a cue. A "sentence" without punctuation (a note typed in haste, speech
/// to text, reviews run together) can run for thousands of characters; there the speaker
/// anywhere joined any act or death word, and 18 of 20 texts of 200 hotel reviews run together
/// raised an alert.
const SPEAKER_REACH: usize = 120;

/// Cues combine only within this many bytes of each other (15 CJK characters): a sentence of a
/// long Weibo post can run for hundreds of characters and join words that have nothing to do
/// with each other.
const CUE_WINDOW: usize = 45;

/// A cue's bit: its place in `CUES`. A const fn, so the rules below test constants (they run
/// for every cue word of every text that has an anchor).
const fn bit(name: &str) -> u32 {
    let mut i = 0;
    while i < CUES.len() {
        if eq(CUES[i].as_bytes(), name.as_bytes()) {
            return 1 << i;
        }
        i += 1;
    }
    panic!("an unknown cue")
}

const fn eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// The bit of a cue named by a literal, computed at compile time.
macro_rules! cue {
    ($name:literal) => {{
        const BIT: u32 = bit($name);
        BIT
    }};
}

/// The cue words, found in one pass, each with its category bit.
struct CueMatcher {
    words: aho_corasick::AhoCorasick,
    bits: Vec<u32>,
    /// The words of the categories every rule needs one of: a text without any is skipped
    /// before the frequent words (我, 想, 手 …) are looked for.
    anchors: aho_corasick::AhoCorasick,
    anchor_words: Vec<String>,
    /// Words holding a cue word in another sense (发烧, 手机, 其他): a cue overlapping one
    /// does not count, unless it holds the whole word.
    other_senses: Option<aho_corasick::AhoCorasick>,
    /// The longest cue or other-sense word, in bytes.
    longest: usize,
}

/// Every rule of `CueRules` needs one of these (self-harm through its tool or injury, since
/// its acts, 划 and 刻 among them, are everywhere: 划算, 立刻).
const ANCHORS: [&str; 8] = [
    "death", "sleep", "burden", "means", "place", "harm_act", "tool", "injury",
];

impl CueMatcher {
    fn new(
        cues: &std::collections::BTreeMap<String, Vec<String>>,
        other_senses: &[String],
    ) -> Result<Option<CueMatcher>> {
        if cues.is_empty() {
            return Ok(None);
        }
        let mut words = Vec::new();
        let mut bits = Vec::new();
        let mut anchors = Vec::new();
        for (name, list) in cues {
            if !CUES.contains(&name.as_str()) {
                anyhow::bail!(
                    "crisis.toml [cues]: unknown cue '{name}' (known: {})",
                    CUES.join(", ")
                );
            }
            for w in list.iter().filter(|w| !w.is_empty()) {
                words.push(w.clone());
                bits.push(bit(name));
                if ANCHORS.contains(&name.as_str()) {
                    anchors.push(w.clone());
                }
            }
        }
        Ok(Some(CueMatcher {
            words: dfa(&words).context("crisis.toml [cues]")?,
            bits,
            anchors: dfa(&anchors).context("crisis.toml [cues]")?,
            anchor_words: anchors,
            other_senses: {
                // An empty word would match everywhere and silence every cue.
                let words: Vec<&String> = other_senses.iter().filter(|w| !w.is_empty()).collect();
                if words.is_empty() {
                    None
                } else {
                    Some(dfa(&words).context("crisis.toml [cue_other_senses]")?)
                }
            },
            longest: words
                .iter()
                .chain(other_senses)
                .map(String::len)
                .max()
                .unwrap_or(0),
        }))
    }

    /// The highest tier any sentence of `text` reaches by its cues, with the cue words.
    fn assess(&self, text: &str) -> Option<(Risk, Vec<String>)> {
        let anchors: Vec<usize> = self
            .anchors
            .find_overlapping_iter(text)
            .map(|m| m.start())
            .collect();
        self.assess_anchored(text, &anchors)
    }

    /// `assess`, given where the anchor cues of `text` start (every occurrence of each).
    fn assess_anchored(&self, text: &str, anchors: &[usize]) -> Option<(Risk, Vec<String>)> {
        self.assess_anchored_in(text, anchors, &sentence_ends(text))
    }

    /// `assess_anchored`, given where the sentences of `text` end (`sentence_ends`).
    fn assess_anchored_in(
        &self,
        text: &str,
        anchors: &[usize],
        ends: &[usize],
    ) -> Option<(Risk, Vec<String>)> {
        // Sentences end at 。！？!?；; each match belongs to the sentence its start is in.
        let sentence_of = |start: usize| ends.partition_point(|&e| e < start);
        // Every rule needs an anchor cue, and cues combine only within a sentence, so only the
        // sentences holding an anchor are searched for the other cues (in a long text, a few
        // short ones).
        let mut sentences: Vec<usize> = anchors.iter().map(|&a| sentence_of(a)).collect();
        if sentences.is_empty() {
            return None;
        }
        sentences.sort_unstable();
        sentences.dedup();
        // (sentence, start, end, bit) of every cue word of those sentences.
        let mut found: Vec<(usize, usize, usize, u32)> = Vec::new();
        for &k in &sentences {
            // The sentence starts after the mark that ends the one before (one ASCII byte or
            // a three-byte fullwidth mark) and holds the matches starting up to its own mark.
            let from = match k {
                0 => 0,
                _ => {
                    ends[k - 1]
                        + if text.as_bytes()[ends[k - 1]] < 0x80 {
                            1
                        } else {
                            3
                        }
                }
            };
            let last_start = ends.get(k).copied().unwrap_or(text.len());
            let mut to = (last_start + self.longest).min(text.len());
            while !text.is_char_boundary(to) {
                to += 1;
            }
            let span = &text[from..to];
            let other: Vec<(usize, usize)> = self.other_senses.as_ref().map_or(Vec::new(), |o| {
                o.find_overlapping_iter(span)
                    .map(|m| (m.start(), m.end()))
                    .collect()
            });
            for m in self.words.find_overlapping_iter(span) {
                let (s, e) = (m.start(), m.end());
                let in_other_sense = other
                    .iter()
                    .any(|&(os, oe)| s < oe && os < e && !(s <= os && oe <= e));
                if from + s <= last_start && !in_other_sense {
                    found.push((k, from + s, from + e, self.bits[m.pattern().as_usize()]));
                }
            }
        }
        found.sort_unstable();
        // A death word inside a violent act (烧死, 砍死) is the act's: `ACT_DEATH`, which
        // `CueRules` reads as the speaker's own death only without someone else to harm.
        // Such an act starts at most `longest` bytes before the death word: only the cues
        // starting there are looked at, so a text of a thousand acts is not read a thousand times.
        for i in 0..found.len() {
            let (k, s, e, b) = found[i];
            if b != cue!("death") {
                continue;
            }
            let before = found[..i]
                .iter()
                .rev()
                .take_while(|f| f.0 == k && f.1 + self.longest >= s);
            let at_same_start = found[i + 1..].iter().take_while(|f| f.0 == k && f.1 == s);
            if before.chain(at_same_start).any(|&(_, s2, e2, b2)| {
                b2 == cue!("harm_act") && s2 <= s && e <= e2 && (s2, e2) != (s, e)
            }) {
                found[i].3 = ACT_DEATH;
            }
        }
        let mut best: Option<(Risk, usize, usize)> = None;
        // The first speaker cue that may still be within reach of the window being built.
        let mut speakers_from = 0;
        // Every window that starts at a cue: the cues of the same sentence within reach, and
        // the speaker within `SPEAKER_REACH` of the window on either side.
        for (i, &(sentence, start, _, _)) in found.iter().enumerate() {
            while found[speakers_from].0 < sentence
                || found[speakers_from].1 + SPEAKER_REACH < start
            {
                speakers_from += 1;
            }
            let mut bits = found[speakers_from..]
                .iter()
                .take_while(|&&(s2, st2, _, _)| {
                    s2 == sentence && st2 <= start + CUE_WINDOW + SPEAKER_REACH
                })
                .fold(0, |bits, &(_, _, _, b)| bits | (b & SENTENCE_WIDE));
            let mut last = i;
            for (j, &(s2, st2, _, b)) in found.iter().enumerate().skip(i) {
                if s2 != sentence || st2 > start + CUE_WINDOW {
                    break;
                }
                bits |= b;
                last = j;
            }
            let tier = CueRules::tier(bits);
            if tier != Risk::None && best.is_none_or(|(b, _, _)| severity(tier) > severity(b)) {
                best = Some((tier, i, last));
            }
        }
        best.map(|(tier, i, last)| {
            let mut words: Vec<&str> = found[i..=last]
                .iter()
                .map(|&(_, s, e, _)| &text[s..e])
                .collect();
            words.dedup();
            (tier, vec![words.join("+")])
        })
    }
}

/// Where the sentences of `text` end (。！？；!?; or a line break), by byte. The fullwidth
/// marks are E3 80 82 and EF BC 81/9F/9B, so a vectorised search for the lead bytes E3 and EF
/// (and the line feed) finds every candidate, and a second one the ASCII marks, which Chinese
/// text seldom holds (twice the speed of a byte loop).
pub(super) fn sentence_ends(text: &str) -> Vec<usize> {
    let b = text.as_bytes();
    let mut ends: Vec<usize> = memchr::memchr3_iter(0xE3, 0xEF, b'\n', b)
        .filter(|&i| match b[i] {
            b'\n' => true,
            0xE3 => b.get(i + 1..i + 3) == Some(&[0x80, 0x82]),
            _ => matches!(b.get(i + 1..i + 3), Some([0xBC, 0x81 | 0x9F | 0x9B])),
        })
        .collect();
    let fullwidth = ends.len();
    ends.extend(memchr::memchr3_iter(b'!', b'?', b';', b));
    if fullwidth > 0 && ends.len() > fullwidth {
        ends.sort_unstable();
    }
    ends
}

/// How cues combine into a tier, within one sentence.
struct CueRules;

impl CueRules {
    fn tier(b: u32) -> Risk {
        let has = |bit: u32| b & bit != 0;
        // "带着汽油来烧死我们全家" threatens others, not oneself: a violent act's death word counts
        // as the speaker's own only where the act has no other target, or turns on oneself
        // ("用汽油烧死自己").
        let death = has(cue!("death"))
            || (has(ACT_DEATH) && (has(cue!("self")) || !has(cue!("harm_target"))));
        if (has(cue!("means"))
            && (death
                || has(cue!("overdose"))
                || has(cue!("seal"))
                // A rope tied is made ready only where one hangs from (房梁, 脖子) or with a last
                // step counted: tied to a tree, a car or a dog it is a chore.
                || (has(cue!("tie")) && (has(cue!("hang")) || has(cue!("countdown"))))
                || (has(cue!("place")) && (has(cue!("first")) || has(cue!("self"))))))
            || (has(cue!("place")) && (death || has(cue!("countdown"))))
        {
            Risk::Imminent
        } else if has(cue!("self_act"))
            && (has(cue!("tool")) || has(cue!("injury")))
            && (has(cue!("self")) || has(cue!("body")))
        {
            Risk::SelfHarm
        } else if has(cue!("harm_act")) && has(cue!("harm_target")) && has(cue!("first")) {
            Risk::HarmOthers
        } else if (death
            && (has(cue!("wish")) || has(cue!("burden")))
            && (has(cue!("first")) || has(cue!("self"))))
            || (has(cue!("burden")) && has(cue!("self")))
            || has(cue!("sleep"))
        {
            Risk::Ideation
        } else {
            Risk::None
        }
    }
}

pub struct CrisisMatcher {
    /// Tiers from highest to lowest, each with its patterns.
    tiers: Vec<(Risk, Vec<LazyRegex>)>,
    negatives: Masks,
    cues: Option<CueMatcher>,
    /// One literal of every pattern (one that any match contains, picked to be rare) and the
    /// cue anchors, each owned by its pattern (in tier order) or `CUE_ANCHOR`, in one search: a
    /// text holding none of them can match neither detector, and that is most texts, so this
    /// one pass is all they cost. Where a text does hold some, they say which patterns to run.
    /// None when some pattern has no such literals; then every pattern runs on every text.
    gate: Option<LiteralGate>,
    /// The learned screen (`crisis_model.tsv`), for what the patterns and cues miss.
    model: Option<CrisisModel>,
    dialect: Option<Dialect>,
}

const CUE_ANCHOR: usize = usize::MAX;
/// The owner of a dialect word among the gate's literals.
const DIALECT_WORD: usize = usize::MAX - 1;

/// What the gate found in a text.
enum Gated {
    /// There is no gate: every pattern may match, and the cues look for their anchors.
    Off,
    /// No literal: neither detector's rules can match.
    Nothing,
    /// Which patterns may match, and where the anchor cues start.
    Found(Vec<bool>, Vec<usize>),
}

/// A text as both detectors read it, and what the pass over it found.
struct Reading<'t> {
    text: Cow<'t, str>,
    gated: Gated,
    /// Where its sentences end (`sentence_ends`), and the screen's blocks, when the gate's
    /// pass read them.
    ends: Option<Vec<usize>>,
    bounds: Option<Bounds>,
}

/// One pass of the gate: the patterns that may match, where the anchor cues start, and whether
/// a dialect word occurs.
struct GatePass {
    candidates: Vec<bool>,
    anchors: Vec<usize>,
    dialect: bool,
}

impl GatePass {
    /// Records that a literal of `owner` starts at byte `at`, in the pass of a gate over
    /// `patterns` patterns: allocated only at the first literal, since most texts hold none.
    #[inline(always)]
    fn record(found: &mut Option<GatePass>, patterns: usize, at: usize, owner: usize) {
        let pass = found.get_or_insert_with(|| GatePass {
            candidates: vec![false; patterns],
            anchors: Vec::new(),
            dialect: false,
        });
        match owner {
            CUE_ANCHOR => pass.anchors.push(at),
            DIALECT_WORD => pass.dialect = true,
            i => pass.candidates[i] = true,
        }
    }
}

/// Dialect words (`[dialect]` of crisis.toml) and the Mandarin the detectors read them as, each
/// replaced where it occurs, the longest first.
struct Dialect {
    words: aho_corasick::AhoCorasick,
    mandarin: Vec<String>,
}

impl Dialect {
    fn new(table: &std::collections::BTreeMap<String, String>) -> Result<Option<Dialect>> {
        if table.is_empty() {
            return Ok(None);
        }
        if table.contains_key("") {
            anyhow::bail!("crisis.toml [dialect]: an empty word would be read everywhere");
        }
        Ok(Some(Dialect {
            words: aho_corasick::AhoCorasick::builder()
                .match_kind(aho_corasick::MatchKind::LeftmostLongest)
                .build(table.keys())
                .context("crisis.toml [dialect]")?,
            mandarin: table.values().cloned().collect(),
        }))
    }

    /// `text` with its dialect words in Mandarin; borrowed when it holds none (nearly always).
    /// The gate, when there is one, says whether it does in its own pass.
    fn read<'t>(&self, text: Cow<'t, str>) -> Cow<'t, str> {
        if self.words.is_match(&*text) {
            Cow::Owned(self.in_mandarin(&text))
        } else {
            text
        }
    }

    fn in_mandarin(&self, text: &str) -> String {
        self.words.replace_all(text, &self.mandarin)
    }
}

/// The hard negatives, masked exactly as one leftmost-first alternation of the kept wording
/// and then the negatives would mask them (a kept match left as it is), but each pattern
/// searched alone and only on texts that hold one of its literals. As one alternation, a
/// hundred gappy patterns spent most of the crisis stage (and most of `score`'s time) building
/// the states of its lazy DFA, text after text.
/// A crisis pattern, compiled the first time a text needs it. Compiled at the start, the
/// patterns and masks of crisis.toml (their gaps, `[^。！？]{0,20}`, are large automata over
/// UTF-8) took a third of the engine's start, 0.03 s of CPU, while a text needs few of them: all
/// 7,765 ChnSentiCorp reviews together reached 107 of the tiers' patterns, a one-line run none.
/// The syntax is checked when the dictionary is read, so a bad pattern is still named before any
/// work starts.
struct LazyRegex {
    pattern: String,
    regex: OnceLock<Regex>,
}

impl LazyRegex {
    /// `pattern`, whose parse is `_parsed` (the proof that its syntax was checked).
    fn checked(pattern: &str, _parsed: &regex_syntax::hir::Hir) -> LazyRegex {
        LazyRegex {
            pattern: pattern.to_string(),
            regex: OnceLock::new(),
        }
    }

    #[inline]
    fn get(&self) -> &Regex {
        self.regex.get_or_init(|| self.compile())
    }

    /// Its syntax was checked, so only the size limit can refuse it: far above what any pattern
    /// of the shipped file needs (a test compiles them all).
    fn compile(&self) -> Regex {
        RegexBuilder::new(&self.pattern)
            .size_limit(1 << 30)
            .build()
            .unwrap_or_else(|e| {
                tracing::error!(
                    "crisis.toml: pattern '{}' cannot be compiled and matches nothing: {e}",
                    self.pattern
                );
                Regex::new("a^").expect("a pattern that matches nothing")
            })
    }
}

struct Masks {
    /// The kept wording (the first `kept`), then the negatives.
    patterns: Vec<LazyRegex>,
    kept: usize,
    /// The literals one of which every match of a pattern holds, for every pattern that has
    /// them; `gate_owner` names the pattern of each.
    gate: Option<aho_corasick::AhoCorasick>,
    gate_owner: Vec<usize>,
    /// The patterns without such literals, searched on every text.
    ungated: Vec<usize>,
}

impl Masks {
    fn new(
        keep: &[String],
        negatives: &[String],
        rarity: &(dyn Fn(&[u8]) -> f32 + Sync),
    ) -> Result<Masks> {
        let mut gate_owner = Vec::new();
        let mut literals: Vec<Vec<u8>> = Vec::new();
        let mut ungated = Vec::new();
        let mut compiled = Vec::with_capacity(keep.len() + negatives.len());
        for (i, p) in keep.iter().chain(negatives).enumerate() {
            let hir =
                regex_syntax::parse(p).with_context(|| format!("crisis.toml [negatives]: {p}"))?;
            // An empty match would mask nothing and stall the search that resumes after it.
            if hir.properties().minimum_len().unwrap_or(0) == 0 {
                anyhow::bail!("crisis.toml [negatives]: '{p}' can match an empty text");
            }
            compiled.push(LazyRegex::checked(p, &hir));
            match literals_of(&hir, rarity) {
                Some(set) => {
                    gate_owner.extend(std::iter::repeat_n(i, set.len()));
                    literals.extend(set);
                }
                None => ungated.push(i),
            }
        }
        // A contiguous NFA: it builds in a fraction of a DFA's time, and it reads only the few
        // texts that a crisis pattern or the screen may flag.
        let gate = aho_corasick::AhoCorasick::builder()
            .kind(Some(aho_corasick::AhoCorasickKind::ContiguousNFA))
            .build(&literals)
            .ok();
        Ok(Masks {
            patterns: compiled,
            kept: keep.len(),
            gate,
            gate_owner,
            ungated,
        })
    }

    /// `text` with every match of the alternation of the patterns replaced by 〇, or left as it
    /// is where the pattern is kept wording: at each step the leftmost match, and of those
    /// starting there, the first pattern's.
    fn replace<'t>(&self, text: &'t str) -> Cow<'t, str> {
        let mut candidates = self.ungated.clone();
        match &self.gate {
            Some(gate) => {
                for m in gate.find_overlapping_iter(text) {
                    candidates.push(self.gate_owner[m.pattern().as_usize()]);
                }
            }
            None => candidates.extend(0..self.patterns.len()),
        }
        if candidates.is_empty() {
            return Cow::Borrowed(text);
        }
        candidates.sort_unstable();
        candidates.dedup();
        let find = |i: usize, from: usize| {
            self.patterns[i]
                .get()
                .find_at(text, from)
                .map(|m| (m.start(), m.end()))
        };
        let mut next: Vec<Option<(usize, usize)>> =
            candidates.iter().map(|&i| find(i, 0)).collect();
        let mut masked = String::new();
        let mut copied = 0;
        let mut changed = false;
        loop {
            // Candidates are in pattern order, so a strict < keeps the first pattern on a tie.
            let mut best: Option<(usize, usize, usize)> = None;
            for (&(start, end), &i) in next
                .iter()
                .zip(&candidates)
                .filter_map(|(n, i)| Some((n.as_ref()?, i)))
            {
                if best.is_none_or(|(s, _, _)| start < s) {
                    best = Some((start, end, i));
                }
            }
            let Some((start, end, pattern)) = best else {
                break;
            };
            if pattern < self.kept {
                masked.push_str(&text[copied..end]);
            } else {
                masked.push_str(&text[copied..start]);
                masked.push('〇');
                changed = true;
            }
            copied = end;
            for (slot, &i) in next.iter_mut().zip(&candidates) {
                if slot.is_some_and(|(s, _)| s < end) {
                    *slot = find(i, end);
                }
            }
        }
        if !changed {
            return Cow::Borrowed(text);
        }
        masked.push_str(&text[copied..]);
        Cow::Owned(masked)
    }
}

/// A full DFA: these automata gate every text, and a DFA searches fastest for a few hundred
/// short literals.
fn dfa<P: AsRef<[u8]>>(
    literals: &[P],
) -> Result<aho_corasick::AhoCorasick, aho_corasick::BuildError> {
    aho_corasick::AhoCorasick::builder()
        .kind(Some(aho_corasick::AhoCorasickKind::DFA))
        .build(literals)
}

/// Literals one of which every match of `pattern` contains, chosen to be rare: from each
/// sequence the part whose commonest literal is rarest (`rarity`, the background IDF), so that
/// `(今晚|现在).{0,12}(自杀|跳楼)` is gated on 自杀 and 跳楼, not on 现在. None when some
/// branch of the pattern has no such part.
pub(super) fn necessary_literals(
    pattern: &str,
    rarity: &(dyn Fn(&[u8]) -> f32 + Sync),
) -> Option<Vec<Vec<u8>>> {
    literals_of(&regex_syntax::parse(pattern).ok()?, rarity)
}

/// `necessary_literals` of a pattern already parsed.
fn literals_of(
    hir: &regex_syntax::hir::Hir,
    rarity: &(dyn Fn(&[u8]) -> f32 + Sync),
) -> Option<Vec<Vec<u8>>> {
    use regex_syntax::hir::{Class, Hir, HirKind};
    /// Crossing consecutive exact parts stops past this many literals. The gate automaton
    /// reads every byte of every text, and its speed depends on its size more than on how
    /// few texts pass it: at 64 the shipped patterns gave 1,158 literals and the crisis stage
    /// took 0.30 s on ChnSentiCorp ×5, at 8 they give 619 and it takes 0.20 s (at 1: 0.23 s,
    /// 3: 0.22 s, 16: 0.19 s).
    const MAX_CROSS: usize = 8;
    /// The literals, and whether a match of `h` is exactly one of them.
    fn walk(h: &Hir, rarity: &(dyn Fn(&[u8]) -> f32 + Sync)) -> Option<(Vec<Vec<u8>>, bool)> {
        match h.kind() {
            HirKind::Literal(l) => Some((vec![l.0.to_vec()], true)),
            HirKind::Class(Class::Unicode(c)) => {
                let chars: Vec<char> = c
                    .iter()
                    .flat_map(|r| r.start()..=r.end())
                    .take(17)
                    .collect();
                (chars.len() <= 16).then(|| {
                    let set = chars.iter().map(|c| c.to_string().into_bytes()).collect();
                    (set, true)
                })
            }
            HirKind::Capture(c) => walk(&c.sub, rarity),
            HirKind::Repetition(r) if r.min >= 1 => {
                walk(&r.sub, rarity).map(|(set, exact)| (set, exact && r.max == Some(1)))
            }
            // An optional exact part is its literals or nothing, so it can still be crossed
            // with its neighbours: 想(去)?死 → 想死, 想去死. Alone it gates nothing (the empty
            // literal scores lowest and is never picked over a real one).
            HirKind::Repetition(r) if r.max == Some(1) => match walk(&r.sub, rarity) {
                Some((mut set, true)) if set.len() < MAX_CROSS => {
                    set.push(Vec::new());
                    Some((set, true))
                }
                _ => None,
            },
            HirKind::Alternation(branches) => {
                let mut all = Vec::new();
                let mut exact = true;
                for b in branches {
                    let (set, e) = walk(b, rarity)?;
                    all.extend(set);
                    exact &= e;
                }
                Some((all, exact))
            }
            HirKind::Concat(parts) => {
                let score = |set: &Vec<Vec<u8>>| {
                    set.iter()
                        .map(|l| {
                            if l.is_empty() {
                                f32::NEG_INFINITY
                            } else {
                                rarity(l)
                            }
                        })
                        .fold(f32::INFINITY, f32::min)
                };
                let walked: Vec<Option<(Vec<Vec<u8>>, bool)>> =
                    parts.iter().map(|p| walk(p, rarity)).collect();
                let mut candidates: Vec<Vec<Vec<u8>>> = Vec::new();
                // Runs of exact parts crossed into longer literals (吞|吃 + 了 → 吞了, 吃了).
                let mut run: Option<Vec<Vec<u8>>> = None;
                for w in &walked {
                    match w {
                        Some((set, true)) => {
                            let crossed = match run.take() {
                                None => set.clone(),
                                Some(prev) if prev.len() * set.len() <= MAX_CROSS => prev
                                    .iter()
                                    .flat_map(|a| {
                                        set.iter().map(move |b| [a.clone(), b.clone()].concat())
                                    })
                                    .collect(),
                                Some(prev) => {
                                    candidates.push(prev);
                                    set.clone()
                                }
                            };
                            run = Some(crossed);
                        }
                        _ => {
                            if let Some(prev) = run.take() {
                                candidates.push(prev);
                            }
                        }
                    }
                    if let Some((set, _)) = w {
                        candidates.push(set.clone());
                    }
                }
                let whole = walked.iter().all(|w| matches!(w, Some((_, true))));
                if let Some(prev) = run {
                    candidates.push(prev);
                }
                // A literal holding another of its set adds nothing (吞了药 beside 吞了).
                for set in &mut candidates {
                    let all = set.clone();
                    set.retain(|l| {
                        !all.iter().any(|o| {
                            !o.is_empty() && o.len() < l.len() && l.windows(o.len()).any(|w| w == o)
                        })
                    });
                    set.sort();
                    set.dedup();
                }
                let best = candidates
                    .into_iter()
                    .max_by(|a, b| score(a).total_cmp(&score(b)))?;
                Some((best, whole && parts.len() == 1))
            }
            _ => None,
        }
    }
    walk(hir, rarity)
        .map(|(set, _)| set)
        .filter(|set| !set.is_empty() && set.iter().all(|l| !l.is_empty()))
}

/// The tier and the phrases that matched.
pub struct CrisisResult {
    pub risk: Risk,
    pub terms: Vec<String>,
    /// The learned screen's probability when it, not a pattern or cue, flagged the text.
    pub screened: Option<f32>,
}

impl CrisisMatcher {
    /// `rarity` rates a literal for the gate: the higher, the fewer texts hold it.
    pub fn new(
        toml_text: &str,
        model_text: &str,
        rarity: &(dyn Fn(&[u8]) -> f32 + Sync),
    ) -> Result<CrisisMatcher> {
        let file: CrisisFile = toml::from_str(toml_text).context("crisis.toml")?;
        // One Regex per pattern, not a RegexSet: a single regex searches for its literals
        // first (memchr, Aho-Corasick) and runs its automaton only where they occur, while a set
        // of forty gappy patterns kept rebuilding its lazy DFA and cost more than segmentation.
        let compile = |risk: Risk, list: &PatternList| -> Result<(Risk, Vec<LazyRegex>)> {
            let each = list
                .patterns
                .iter()
                .map(|p| {
                    let hir = regex_syntax::parse(p)
                        .with_context(|| format!("crisis.toml [{}]: {p}", risk.name()))?;
                    Ok(LazyRegex::checked(p, &hir))
                })
                .collect::<Result<Vec<_>>>()?;
            Ok((risk, each))
        };
        // The masks (parsed, their literals found, their gate built) on a thread of their own
        // while the tiers are parsed here.
        let (tiers, negatives) = std::thread::scope(|s| {
            let masks =
                s.spawn(|| Masks::new(&file.negatives.keep, &file.negatives.patterns, rarity));
            let tiers = [
                (Risk::Imminent, &file.imminent),
                (Risk::SelfHarm, &file.self_harm),
                (Risk::HarmOthers, &file.harm_others),
                (Risk::Ideation, &file.ideation),
            ]
            .into_iter()
            .map(|(risk, list)| compile(risk, list))
            .collect::<Result<Vec<_>>>();
            let masks = masks.join().expect("the masks' thread does not panic");
            tiers.and_then(|t| Ok((t, masks?)))
        })?;
        let cues = CueMatcher::new(
            &file.cues,
            file.cue_other_senses.as_ref().map_or(&[], |l| &l.words),
        )?;
        let necessary = file
            .tier_patterns()
            .map(|p| necessary_literals(p, rarity))
            .collect::<Option<Vec<_>>>();
        let gate = necessary.and_then(|sets| {
            let mut literals: Vec<(Vec<u8>, usize)> = Vec::new();
            for (i, set) in sets.into_iter().enumerate() {
                literals.extend(set.into_iter().map(|l| (l, i)));
            }
            if let Some(c) = &cues {
                literals.extend(
                    c.anchor_words
                        .iter()
                        .map(|w| (w.as_bytes().to_vec(), CUE_ANCHOR)),
                );
            }
            // The gate's one pass also says whether a text holds a dialect word.
            literals.extend(
                file.dialect
                    .keys()
                    .map(|w| (w.as_bytes().to_vec(), DIALECT_WORD)),
            );
            LiteralGate::new(&literals)
        });
        Ok(CrisisMatcher {
            tiers,
            negatives,
            cues,
            gate,
            model: CrisisModel::parse(model_text)?,
            dialect: Dialect::new(&file.dialect)?,
        })
    }

    /// Whether the gate is in use (every pattern has literals to gate on).
    pub fn gated(&self) -> bool {
        self.gate.is_some()
    }

    /// The patterns and cues, then the learned screen where they find nothing.
    pub fn assess(&self, normalised: &str) -> CrisisResult {
        // Both detectors read the same text (`detector_text`): made once.
        let Reading {
            text,
            gated,
            ends,
            bounds,
        } = self.read(normalised);
        let result = self.rules_on(&text, gated, ends.as_deref());
        if result.risk != Risk::None {
            return result;
        }
        let screen = self.model.as_ref().and_then(|m| match &bounds {
            Some(b) => m.screen_bounds(&text, b, &|s| self.negatives.replace(s)),
            None => self.screen_on_compact(m, &text),
        });
        match screen {
            Some(s) => CrisisResult {
                risk: s.risk,
                terms: s.terms,
                screened: Some(s.probability),
            },
            None => result,
        }
    }

    /// The gate's pass over `compact`: which of the `patterns` may match, where the anchor cues
    /// start (every occurrence of each, as the cues' own search finds them), and whether a
    /// dialect word occurs. None when the text holds no gate literal.
    fn gate_pass(gate: &LiteralGate, compact: &str, patterns: usize) -> Option<GatePass> {
        let mut found: Option<GatePass> = None;
        gate.each_occurrence(compact, |at, owner| {
            GatePass::record(&mut found, patterns, at, owner)
        });
        found
    }

    /// A (normalised) text as both detectors read it (`detector_text`), what the gate found
    /// there, and, read in the same pass over its characters, where its sentences end and the
    /// screen's blocks.
    fn read<'t>(&self, normalised: &'t str) -> Reading<'t> {
        let compact = compact(normalised);
        let Some(gate) = &self.gate else {
            let text = match &self.dialect {
                Some(d) => d.read(compact),
                None => compact,
            };
            return Reading {
                text,
                gated: Gated::Off,
                ends: None,
                bounds: None,
            };
        };
        let patterns = self.pattern_count();
        let gated = |pass: Option<GatePass>| match pass {
            Some(p) if p.candidates.contains(&true) || !p.anchors.is_empty() => {
                Gated::Found(p.candidates, p.anchors)
            }
            _ => Gated::Nothing,
        };
        let (pass, ends, bounds) = match &self.model {
            Some(model) => {
                let (pass, ends, bounds) = self.scan(gate, model, &compact, patterns);
                (pass, Some(ends), Some(bounds))
            }
            None => (
                CrisisMatcher::gate_pass(gate, &compact, patterns),
                None,
                None,
            ),
        };
        match (&self.dialect, pass) {
            // Read again in Mandarin, which the patterns are written in.
            (Some(d), Some(p)) if p.dialect => {
                let mandarin = d.in_mandarin(&compact);
                let again = CrisisMatcher::gate_pass(gate, &mandarin, patterns);
                Reading {
                    text: Cow::Owned(mandarin),
                    gated: gated(again),
                    ends: None,
                    bounds: None,
                }
            }
            (_, pass) => Reading {
                text: compact,
                gated: gated(pass),
                ends,
                bounds,
            },
        }
    }

    /// The gate's pass over `compact` (`gate_pass`), which also reads each character into the
    /// screen's blocks and notes where each sentence ends: each pass over the characters of
    /// every text cost as much as decoding them, a tenth of the engine's time.
    fn scan(
        &self,
        gate: &LiteralGate,
        model: &CrisisModel,
        compact: &str,
        patterns: usize,
    ) -> (Option<GatePass>, Vec<usize>, Bounds) {
        let bytes = compact.as_bytes();
        let mut found: Option<GatePass> = None;
        let mut on_literal =
            |at: usize, owner: usize| GatePass::record(&mut found, patterns, at, owner);
        let mut ends = Vec::new();
        let mut bounds = Bounds::default();
        let mut reader = model.reader(&bounds);
        // The screen reads a sentence from after a hotline note's frame (`without_frame`).
        let mut from = frame_end(compact, 0);
        for (at, c) in compact.char_indices() {
            gate.at_char(bytes, at, c, &mut on_literal);
            if matches!(c, '\n' | '!' | '?' | ';' | '。' | '！' | '？' | '；') {
                ends.push(at);
                model.end_sentence(&mut reader, at, &mut bounds);
                from = frame_end(compact, at + c.len_utf8());
            } else if at >= from {
                model.read_char(&mut reader, at, c, &mut bounds);
            }
        }
        model.end_sentence(&mut reader, compact.len(), &mut bounds);
        (found, ends, bounds)
    }

    /// A (normalised) text as the learned screen reads it: without spaces, as the patterns
    /// read it, and with the hard negatives masked, so that "不小心把手指划破了" or a game's
    /// "拼了" weigh nothing there either (unmasked, the screen took them for self-harm).
    pub fn screen_text(&self, normalised: &str) -> String {
        self.negatives
            .replace(&self.detector_text(normalised))
            .into_owned()
    }

    /// What `model` finds on a (normalised) text, reading it as it learned: without spaces
    /// and with the hard negatives masked.
    pub fn screen_with(&self, model: &CrisisModel, normalised: &str) -> Option<Screen> {
        self.screen_on_compact(model, &self.detector_text(normalised))
    }

    fn screen_on_compact(&self, model: &CrisisModel, compact: &str) -> Option<Screen> {
        model.screen_masked(compact, &|s| self.negatives.replace(s))
    }

    /// The patterns and cues alone.
    pub fn assess_rules(&self, normalised: &str) -> CrisisResult {
        let Reading {
            text, gated, ends, ..
        } = self.read(normalised);
        self.rules_on(&text, gated, ends.as_deref())
    }

    /// How many patterns the tiers hold together.
    fn pattern_count(&self) -> usize {
        self.tiers.iter().map(|(_, each)| each.len()).sum()
    }

    /// A (normalised) text as both detectors read it: without spaces, ASCII capitals in small
    /// letters, and dialect words in Mandarin.
    fn detector_text<'t>(&self, normalised: &'t str) -> Cow<'t, str> {
        self.read(normalised).text
    }

    /// The patterns and cues on a text as `detector_text` gives it, with what the gate found.
    /// `ends` is where the sentences of `compact` end, if the gate's pass found them.
    fn rules_on(&self, compact: &str, gated: Gated, ends: Option<&[usize]>) -> CrisisResult {
        let none = || CrisisResult {
            risk: Risk::None,
            terms: Vec::new(),
            screened: None,
        };
        // Where the anchor cues start, when the gate has found them (else the cues look).
        let (candidates, anchors): (Vec<bool>, Option<Vec<usize>>) = match gated {
            Gated::Nothing => return none(),
            Gated::Found(candidates, anchors) => (candidates, Some(anchors)),
            Gated::Off => (vec![true; self.pattern_count()], None),
        };
        let candidate_regexes = || {
            self.tiers
                .iter()
                .flat_map(|(risk, each)| each.iter().map(move |r| (*risk, r)))
                .zip(&candidates)
                .filter(|(_, c)| **c)
                .map(|(rr, _)| rr)
        };
        let patterns_may_match = candidate_regexes().any(|(_, r)| r.get().is_match(compact));
        // Masking only removes text, so cues that combine into nothing now never will.
        let cues_may_match = self.cues.as_ref().is_some_and(|c| {
            match &anchors {
                Some(anchors) => match ends {
                    Some(ends) => c.assess_anchored_in(compact, anchors, ends),
                    None => c.assess_anchored(compact, anchors),
                },
                None => c.assess(compact),
            }
            .is_some()
        });
        if !patterns_may_match && !cues_may_match {
            return none();
        }
        let masked = self.negatives.replace(compact);
        let mut result = none();
        if patterns_may_match {
            // Tiers come highest first; the first tier with a match decides.
            let mut found: Option<(Risk, Vec<String>)> = None;
            for (risk, r) in candidate_regexes() {
                if found.as_ref().is_some_and(|(t, _)| *t != risk) {
                    break;
                }
                if let Some(m) = r.get().find(&masked) {
                    let terms = &mut found.get_or_insert_with(|| (risk, Vec::new())).1;
                    // Two patterns may match the same words; they are named once.
                    if !terms.iter().any(|t| t == m.as_str()) {
                        terms.push(m.as_str().to_string());
                    }
                }
            }
            if let Some((risk, terms)) = found {
                result = CrisisResult {
                    risk,
                    terms,
                    screened: None,
                };
            }
        }
        if cues_may_match {
            if let Some((risk, terms)) = self.cues.as_ref().and_then(|c| c.assess(&masked)) {
                if severity(risk) > severity(result.risk) {
                    result = CrisisResult {
                        risk,
                        terms,
                        screened: None,
                    };
                }
            }
        }
        result
    }
}

/// Whether a byte may start a character that the crisis detectors read otherwise: ASCII white
/// space or an ASCII capital, or the first byte of U+0085, U+00A0, U+1680, U+2000–U+205F or
/// U+3000. No byte inside a character is among them, so a text is scanned byte by byte and
/// decoded only there.
const MAY_CHANGE: [bool; 256] = {
    let mut may = [false; 256];
    let mut b = 0x09;
    while b <= 0x0D {
        may[b] = true;
        b += 1;
    }
    let mut b = b'A' as usize;
    while b <= b'Z' as usize {
        may[b] = true;
        b += 1;
    }
    may[0x20] = true;
    may[0xC2] = true;
    may[0xE1] = true;
    may[0xE2] = true;
    may[0xE3] = true;
    may
};

/// Where the first character at or after `from` (a character boundary) that the detectors read
/// otherwise starts, its length, and what it becomes: nothing for white space, the small letter
/// for a capital. Characters are stepped over whole, by their first byte, and decoded only where
/// that byte may start such a character.
#[inline(always)]
fn next_change(text: &str, mut from: usize) -> Option<(usize, usize, Option<char>)> {
    let bytes = text.as_bytes();
    while let Some(&b) = bytes.get(from) {
        if MAY_CHANGE[b as usize] {
            if b.is_ascii_uppercase() {
                return Some((from, 1, Some(b.to_ascii_lowercase() as char)));
            }
            let c = text[from..].chars().next()?;
            if is_space(c) {
                return Some((from, c.len_utf8(), None));
            }
        }
        from += match b {
            0..0x80 => 1,
            0x80..0xE0 => 2,
            0xE0..0xF0 => 3,
            _ => 4,
        };
    }
    None
}

/// A text as the crisis detectors read it: without its spaces, which segmentation and typing put
/// anywhere ("想 死"), and with ASCII letters in lower case, so that patterns read English in one
/// case ("I want to die" is "iwanttodie").
fn compact(normalised: &str) -> Cow<'_, str> {
    // Most texts hold neither: then nothing is copied.
    let Some((mut at, mut len, mut with)) = next_change(normalised, 0) else {
        return normalised.into();
    };
    // The runs between changes copied whole, into a string sized once.
    let mut compact = String::with_capacity(normalised.len());
    let mut from = 0;
    loop {
        compact.push_str(&normalised[from..at]);
        compact.extend(with);
        from = at + len;
        match next_change(normalised, from) {
            Some(next) => (at, len, with) = next,
            None => break,
        }
    }
    compact.push_str(&normalised[from..]);
    compact.into()
}

/// Imminent above self-harm above harm to others above ideation, as the tiers are listed.
fn severity(r: Risk) -> u8 {
    match r {
        Risk::None => 0,
        Risk::Ideation => 1,
        Risk::HarmOthers => 2,
        Risk::SelfHarm => 3,
        Risk::Imminent => 4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_are_those_of_one_alternation_of_the_negatives() {
        let text = include_str!("../../dictionaries/crisis.toml");
        let file: CrisisFile = toml::from_str(text).unwrap();
        let by_length = |l: &[u8]| l.len() as f32;
        let (keep, negatives) = (&file.negatives.keep, &file.negatives.patterns);
        assert!(!keep.is_empty());
        let masks = Masks::new(keep, negatives, &by_length).unwrap();
        let alternation = Regex::new(&format!(
            "(?P<keep>{})|{}",
            keep.join("|"),
            negatives.join("|")
        ))
        .unwrap();
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
        let mut texts: Vec<String> = vec![
            String::new(),
            // Matches that touch, overlap and nest, and two patterns starting at one place.
            "累死了笑死我了想死你们了热死了".into(),
            "被他砍死了，新闻说一男子跳楼，小说里主角自杀了".into(),
            "药已经吃下去了，希望明天退烧，药盒里分好了".into(),
            // Kept wording beside the mask it holds, and a mask inside no kept wording.
            "真想出门就被车撞死，小区的猫被车撞死了".into(),
        ];
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if name.starts_with("crisis_") && name.ends_with(".tsv") {
                let lines = std::fs::read_to_string(&path).unwrap();
                texts.extend(
                    lines
                        .lines()
                        .filter_map(|l| l.split_once('\t'))
                        .map(|(_, t)| compact(t).into_owned()),
                );
            }
        }
        assert!(texts.len() > 1000);
        let mut masked = 0;
        let mut kept = 0;
        for t in &texts {
            let ours = masks.replace(t);
            let theirs = alternation.replace_all(t, |c: &regex::Captures| match c.name("keep") {
                Some(k) => k.as_str().to_string(),
                None => "〇".to_string(),
            });
            assert_eq!(ours, theirs, "{t}");
            masked += usize::from(ours != *t);
            kept += usize::from(
                alternation
                    .captures_iter(t)
                    .any(|c| c.name("keep").is_some()),
            );
        }
        assert!(kept > 0, "no text held kept wording");
        assert!(masked > 100, "only {masked} texts held a hard negative");
        // A mask that can match nothing would stall the search: refused, with its pattern named.
        let err = Masks::new(&[], &["(死)?".to_string()], &by_length)
            .err()
            .unwrap();
        assert!(err.to_string().contains("(死)?"), "{err}");
    }

    #[test]
    fn kept_wording_is_a_tier_pattern_s_own() {
        let file: CrisisFile =
            toml::from_str(include_str!("../../dictionaries/crisis.toml")).unwrap();
        for kept in &file.negatives.keep {
            assert!(
                file.tier_patterns().any(|p| p == kept),
                "[negatives] keep holds '{kept}', which no tier lists: kept wording must alarm"
            );
        }
    }

    #[test]
    fn dialect_words_are_read_longest_first_and_an_empty_one_is_refused() {
        let toml = |dialect: &str| {
            format!(
                "[imminent]\npatterns = [\"现在在天台\"]\n[self_harm]\npatterns = []\n\
                 [harm_others]\npatterns = []\n[ideation]\npatterns = [\"不想活\"]\n\
                 [negatives]\npatterns = []\n[dialect]\n{dialect}"
            )
        };
        let by_length = |l: &[u8]| l.len() as f32;
        let m = CrisisMatcher::new(
            &toml("\"唔\" = \"不\"\n\"而家喺\" = \"现在在\"\n\"喺\" = \"在\""),
            "",
            &by_length,
        )
        .unwrap();
        assert_eq!(m.detector_text("我 而家喺天台"), "我现在在天台");
        assert_eq!(m.assess("我而家喺天台").risk, Risk::Imminent);
        assert_eq!(m.assess("我唔想活").risk, Risk::Ideation);
        assert!(matches!(m.detector_text("今天天气很好"), Cow::Borrowed(_)));
        let err = CrisisMatcher::new(&toml("\"\" = \"不\""), "", &by_length)
            .err()
            .expect("an empty dialect word is refused");
        assert!(format!("{err:#}").contains("[dialect]"), "{err:#}");
    }

    #[test]
    fn every_shipped_pattern_compiles_within_the_default_size_limit() {
        let text = include_str!("../../dictionaries/crisis.toml");
        let matcher = CrisisMatcher::new(text, "", &|l| l.len() as f32).unwrap();
        let patterns: Vec<&LazyRegex> = matcher
            .tiers
            .iter()
            .flat_map(|(_, each)| each)
            .chain(&matcher.negatives.patterns)
            .collect();
        assert!(patterns.len() > 250, "{}", patterns.len());
        for p in patterns {
            assert!(p.regex.get().is_none(), "compiled before a text needed it");
            Regex::new(&p.pattern).unwrap();
        }
    }

    #[test]
    fn every_shipped_pattern_has_gate_literals() {
        let text = include_str!("../../dictionaries/crisis.toml");
        let file: CrisisFile = toml::from_str(text).unwrap();
        let by_length = |l: &[u8]| l.len() as f32;
        let unlisted: Vec<&String> = file
            .tier_patterns()
            .filter(|p| necessary_literals(p, &by_length).is_none())
            .collect();
        assert!(
            unlisted.is_empty(),
            "patterns without gate literals turn the gate off: {unlisted:#?}"
        );
        let m = CrisisMatcher::new(text, "", &by_length).unwrap();
        assert!(m.gated());
        assert_eq!(m.assess("药已经攒够了").risk, Risk::Imminent);
        assert_eq!(m.assess("今天天气很好").risk, Risk::None);
    }

    #[test]
    fn the_gate_finds_every_anchor_cue_the_cues_would() {
        // Anchor words that are also pattern literals (死, 药 …) must still be reported as
        // anchors, wherever they occur, or cue rules would silently stop firing.
        let m = CrisisMatcher::new(
            include_str!("../../dictionaries/crisis.toml"),
            "",
            &|l: &[u8]| l.len() as f32,
        )
        .unwrap();
        let (gate, cues) = (m.gate.as_ref().unwrap(), m.cues.as_ref().unwrap());
        let patterns = m.pattern_count();
        let set = include_str!("../../tests/data/crisis_sentences.tsv");
        let texts = set
            .lines()
            .filter_map(|l| l.split_once('\t').map(|(_, t)| t))
            .chain(["死死死药", "我想死。药都攒好了，刀也在。", "今天天气很好"]);
        let mut anchored = 0;
        for text in texts {
            let own: Vec<usize> = cues
                .anchors
                .find_overlapping_iter(text)
                .map(|a| a.start())
                .collect();
            let from_gate =
                CrisisMatcher::gate_pass(gate, text, patterns).map_or_else(Vec::new, |p| p.anchors);
            // Where anchors start is all the cues use (two anchor words starting at one place
            // are found once).
            let (mut a, mut b) = (own, from_gate);
            for starts in [&mut a, &mut b] {
                starts.sort_unstable();
                starts.dedup();
            }
            assert_eq!(a, b, "{text}");
            anchored += usize::from(!a.is_empty());
        }
        assert!(anchored > 50, "only {anchored} texts hold an anchor cue");
    }

    /// `compact` removes exactly the characters `is_space` calls white space and lowers exactly
    /// the ASCII capitals, whatever surrounds them.
    #[test]
    fn compact_removes_white_space_and_lowers_ascii_capitals_and_nothing_else() {
        let pieces = [
            "想", " ", "死", "\t", "\u{3000}", "a", "\u{00A0}", "\u{0085}", "\u{1680}", "\u{2003}",
            "\u{205F}", "\u{2028}", "\u{200B}", "\u{3001}", "é", "😀", "\n", "\u{E000}",
            "\u{2060}", "I", "Z", "É", "Ａ", "@",
        ];
        let mut text = String::new();
        for i in 0..400usize {
            text.push_str(pieces[(i * 7 + i / 19) % pieces.len()]);
            let expected: String = text
                .chars()
                .filter(|&c| !is_space(c))
                .map(|c| c.to_ascii_lowercase())
                .collect();
            assert_eq!(compact(&text), expected, "{text:?}");
        }
        assert!(matches!(compact("没有空格"), Cow::Borrowed(_)));
    }

    #[test]
    fn sentence_ends_are_found_by_byte() {
        let text = "我很累。真的！为什么？算了;好吧!\n还有吗?也许；〔姓名〕。。abc，对";
        let by_char: Vec<usize> = text
            .match_indices(['。', '！', '？', '!', '?', '；', ';', '\n'])
            .map(|(i, _)| i)
            .collect();
        assert_eq!(sentence_ends(text), by_char);
        assert!(sentence_ends("").is_empty());
    }

    #[test]
    fn gate_literals_are_rare_parts_that_every_match_holds() {
        let by_length = |l: &[u8]| l.len() as f32;
        let names = |p: &str| -> Vec<String> {
            let mut v: Vec<String> = necessary_literals(p, &by_length)
                .unwrap()
                .into_iter()
                .map(|l| String::from_utf8(l).unwrap())
                .collect();
            v.sort();
            v
        };
        // The rarer part of a sequence (here: the longer).
        assert_eq!(names("(在|到).{0,6}(楼顶|天台)"), ["天台", "楼顶"]);
        // Exact neighbours crossed into longer literals; one that holds another is dropped.
        assert_eq!(
            names("(吞|吃)(了|下)(药)?"),
            ["吃下", "吃了", "吞下", "吞了"]
        );
        // Each branch of an alternation contributes; an optional part is crossed as present
        // or absent.
        assert_eq!(
            names("(我|他)(就)?想死|轻生"),
            ["他就想死", "他想死", "我就想死", "我想死", "轻生"]
        );
        assert_eq!(names("想(去)?死"), ["想去死", "想死"]);
        // A part that can be absent or is unbounded gives no literal.
        assert!(necessary_literals(".*", &by_length).is_none());
    }
}
