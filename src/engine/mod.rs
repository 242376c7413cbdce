//! The Chinese text engine: text in, scores out, no I/O after loading. Loaded once (from the
//! embedded `dictionaries/`, or a directory that overrides some of its files) and shared across
//! threads.
//!
//! A text is normalised (simplified characters, Weibo forms), segmented with jieba-rs and a
//! domain user dictionary, and walked clause by clause: negators flip and degree adverbs scale
//! the next sentiment word, an adversative (但是, 可是, 却) damps the clauses before it and
//! strengthens those after, questions are damped and exclamations strengthened. Each sentiment
//! word's weight is its curated weight plus a learned one (`polarity_learned.tsv`, reproduced by
//! `xinqing train`). Every result lists the terms that moved it and the rules applied.

pub mod crisis;
pub mod crisis_model;
mod gate;
mod inquiry;
pub mod learn;
pub mod normalize;
pub mod segmenter;
mod table;

use anyhow::{Context, Result};
use compact_str::CompactString;
use crisis::{CrisisMatcher, Risk};
use jieba_rs::Jieba;
use normalize::Normaliser;
use rustc_hash::FxHashMap;
use serde::Serialize;
use std::path::Path;
use table::{FilteredMap, TermTable};

/// The DUTIR ontology's seven emotion classes.
pub const EMOTIONS: [&str; 7] = ["乐", "好", "怒", "哀", "惧", "恶", "惊"];

/// The feature of the learned emotion model that is the text's polarity score, so that a
/// complaint reads as joy less often: its row in `emotions_learned.tsv`.
pub const POLARITY_FEATURE: &str = "__polarity__";

/// The classes the learned emotion model tells apart: SMP2020-EWECT's six, by DUTIR names
/// (happy 乐, angry 怒, sad 哀, fear 惧, surprise 惊, and no emotion).
pub const EMOTION_CLASSES: [&str; 6] = ["乐", "怒", "哀", "惧", "惊", "none"];

/// Emotion weights learned from labelled text (`emotions_learned.tsv`): per term, a weight for
/// each of `EMOTION_CLASSES`, and a bias; a softmax over their sums gives the probabilities.
#[derive(Debug, Clone, Default)]
pub struct LearnedEmotions {
    pub weights: FxHashMap<String, [f32; 6]>,
    pub bias: [f32; 6],
}

impl LearnedEmotions {
    pub fn parse(text: &str) -> Result<LearnedEmotions> {
        let mut learned = LearnedEmotions::default();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim_end();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut parts = line.split('\t');
            let term = parts.next().unwrap_or_default();
            let values: Vec<f32> = parts
                .map(|v| v.trim().parse::<f32>())
                .collect::<Result<_, _>>()
                .with_context(|| format!("emotions_learned.tsv line {}: bad weight", i + 1))?;
            let row: [f32; 6] = values.try_into().map_err(|_| {
                anyhow::anyhow!(
                    "emotions_learned.tsv line {}: expected a term and six weights ({})",
                    i + 1,
                    EMOTION_CLASSES.join(" ")
                )
            })?;
            if term == "__bias__" {
                learned.bias = row;
            } else {
                learned.weights.insert(term.to_string(), row);
            }
        }
        Ok(learned)
    }
}

/// IDF of a dictionary word missing from the background list: it is rarer than any listed word.
const UNKNOWN_IDF: f32 = 11.0;
/// Multipliers of the rules. Chosen by 5-fold macro-F1 on the two shared data sets: a negated
/// word counts a little less than its opposite, and the clauses after an adversative count
/// more than those before it (0.5/1.5 cost two points of F1 on hotel reviews, which list
/// complaints and praise side by side).
const NEGATED: f32 = -0.8;
const EARLIER_CLAUSE: f32 = 0.8;
const LATER_CLAUSE: f32 = 1.2;
const QUESTION: f32 = 0.6;
const EXCLAMATION: f32 = 1.2;
/// How many words after a verb of overcoming (`overcomes.txt`) may be the hardship it gets
/// through: 走出了失去亲人的阴影 is 失去, 亲人, 阴影.
const OVERCOME_SCOPE: u8 = 3;
/// The rule names a hit's clause and sentence codes stand for.
const CLAUSE_RULES: [&str; 3] = ["", "earlier clause", "later clause"];
const SENTENCE_RULES: [&str; 3] = ["", "question", "exclamation"];
const RULE_EARLIER: u8 = 1;
const RULE_LATER: u8 = 2;
const RULE_QUESTION: u8 = 1;
const RULE_EXCLAMATION: u8 = 2;
/// Terms listed in an explanation at most.
const MAX_TERMS: usize = 12;
/// Below this |score| a text with evidence is still called neutral.
const NEUTRAL_BAND: f32 = 0.05;

macro_rules! embedded {
    ($($field:ident => $file:literal),* $(,)?) => {
        /// The dictionary files, as text.
        #[derive(Clone)]
        pub struct Dictionaries { $(pub $field: String,)* }

        impl Dictionaries {
            /// The files built into the binary.
            pub fn embedded() -> Dictionaries {
                Dictionaries { $($field: include_str!(concat!("../../dictionaries/", $file)).to_string(),)* }
            }

            /// The embedded files, each replaced by a file of the same name in `dir` if present.
            pub fn with_overrides(dir: &Path) -> Result<Dictionaries> {
                let mut d = Dictionaries::embedded();
                $(
                    let path = dir.join($file);
                    if path.exists() {
                        d.$field = std::fs::read_to_string(&path)
                            .with_context(|| format!("cannot read {}", path.display()))?;
                    }
                )*
                Ok(d)
            }
        }
    };
}

embedded! {
    segmenter => "segmenter.txt",
    user_dict => "user_dict.txt",
    negators => "negators.txt",
    degree => "degree.txt",
    complements => "complements.txt",
    overcomes => "overcomes.txt",
    adversatives => "adversatives.txt",
    polarity => "polarity.tsv",
    collocations => "collocations.tsv",
    learned => "polarity_learned.tsv",
    emotions => "emotions.tsv",
    emotions_learned => "emotions_learned.tsv",
    emoticons => "emoticons.tsv",
    topics => "topics.tsv",
    crisis => "crisis.toml",
    crisis_model => "crisis_model.tsv",
    t2s => "t2s.tsv",
    idf => "background_idf.tsv",
    stopwords => "stopwords.txt",
    function_words => "function_words.txt",
    inquiries => "inquiries.txt",
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Role {
    Plain,
    Negator,
    Degree(f32),
    /// A degree complement (死 of 开心死了): scales the lexicon word just before it.
    Complement(f32),
    Adversative,
    /// A verb of getting through a hardship (度过, 走出, 缓解): the negative words just after it
    /// in its clause are read as negated, and so is one just before it ("焦虑缓解").
    Overcome,
    /// A word of relief said after the hardship (好转, 改善 of "失眠改善"): the negative word
    /// just before it in its clause is read as negated.
    Relief,
}

const NO_ROW: u32 = u32::MAX;
/// The id of a token that is not in the term table.
const NO_ID: u32 = u32::MAX;

#[derive(Debug, Clone, Copy)]
pub(crate) struct TermInfo {
    /// Its id in the compiled table (set when the table is built).
    id: u32,
    curated: f32,
    /// The learned weight (`polarity_learned.tsv`), kept here so a hit needs one look-up.
    learned: f32,
    /// Its row in the learned emotion weights, or `NO_ROW`.
    emotion_row: u32,
    emotion: Option<(u8, f32)>,
    role: Role,
    topics: u16,
    /// Not a keyword.
    stop: bool,
    /// Not a sentiment candidate either.
    function: bool,
    idf: f32,
}

impl TermInfo {
    /// Whether a curated dictionary gives the word something: a polarity weight, an emotion,
    /// a rule's role or a topic.
    fn is_curated(&self) -> bool {
        self.curated != 0.0
            || self.emotion.is_some()
            || self.role != Role::Plain
            || self.topics != 0
    }
}

impl Default for TermInfo {
    fn default() -> Self {
        TermInfo {
            id: NO_ID,
            curated: 0.0,
            learned: 0.0,
            emotion_row: NO_ROW,
            emotion: None,
            role: Role::Plain,
            topics: 0,
            stop: false,
            function: false,
            idf: UNKNOWN_IDF,
        }
    }
}

struct Emoticon {
    tag: String,
    polarity: f32,
    emotion: Option<u8>,
}

/// Weights learned from labelled data, added to the curated ones: single terms, and pairs of
/// neighbouring terms in a clause (written "A B" in the file).
#[derive(Debug, Clone, Default)]
pub struct Learned {
    pub weights: FxHashMap<String, f32>,
    /// Pairs as written ("A B"); the engine keys them by term id when it compiles its table.
    pub pairs: Vec<(String, f32)>,
    pub bias: f32,
}

/// The key of a pair of neighbouring terms by their table ids.
fn pair_id(a: u32, b: u32) -> u64 {
    // Never 0, which `PackedMap` keeps for empty slots.
    (a as u64 + 1) << 32 | b as u64
}

impl Learned {
    pub fn parse(text: &str) -> Result<Learned> {
        let mut learned = Learned::default();
        for (i, line) in text.lines().enumerate() {
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let (term, weight) = line.split_once('\t').with_context(|| {
                format!(
                    "polarity_learned.tsv line {}: expected term<TAB>weight",
                    i + 1
                )
            })?;
            let weight: f32 = weight
                .trim()
                .parse()
                .with_context(|| format!("polarity_learned.tsv line {}: bad weight", i + 1))?;
            if term == "__bias__" {
                learned.bias = weight;
            } else if term.contains(' ') {
                learned.pairs.push((term.to_string(), weight));
            } else {
                learned.weights.insert(term.to_string(), weight);
            }
        }
        Ok(learned)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Polarity {
    Positive,
    Neutral,
    Negative,
}

impl Polarity {
    pub fn name(self) -> &'static str {
        match self {
            Polarity::Positive => "positive",
            Polarity::Neutral => "neutral",
            Polarity::Negative => "negative",
        }
    }
}

/// One term's part in a result.
#[derive(Debug, Clone, Serialize)]
pub struct TermEffect {
    /// Inline when short (most terms are): no allocation per term of every text.
    pub term: CompactString,
    /// Its contribution to the raw polarity score, after the rules.
    pub weight: f32,
    /// The rules applied: negated, intensified ×k, earlier clause, later clause, question,
    /// exclamation, emoticon. Most combinations are fixed strings.
    pub rule: std::borrow::Cow<'static, str>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Analysis {
    pub polarity: Polarity,
    pub score: f32,
    pub emotion: Option<&'static str>,
    pub emotions: [f32; 7],
    pub risk: Risk,
    pub risk_terms: Vec<String>,
    pub topics: Vec<&'static str>,
    pub keywords: Vec<CompactString>,
    pub terms: Vec<TermEffect>,
}

/// A sentiment candidate found by the walk: a token and what the rules made of it.
#[derive(Debug, Clone)]
pub(crate) struct Hit<'t> {
    pub term: &'t str,
    id: u32,
    curated: f32,
    learned: f32,
    emotion_row: u32,
    emotion: Option<(u8, f32)>,
    pub modifier: f32,
    clause: u32,
    negated: bool,
    /// A hardship after a verb of overcoming (度过了最难熬的那几天): read as negated, and
    /// explained as overcome.
    overcome: bool,
    /// A wrong forbidden ("别再敷衍了"): read as said, not negated.
    forbidden: bool,
    /// A negator read as a candidate of its own: it pairs with no word after it, whose
    /// negation already says what the pair would.
    negator: bool,
    degree: f32,
    /// Index into `CLAUSE_RULES`: none, earlier clause, later clause.
    clause_rule: u8,
    /// Index into `SENTENCE_RULES`: none, question, exclamation.
    sentence_rule: u8,
    /// In a sentence that asks for information or announces it (`inquiries.txt`): its learned
    /// weight, and that of a pair it ends, does not count.
    plain: Option<inquiry::Plain>,
}

impl<'t> Hit<'t> {
    /// A candidate read from `term`, negated or not, at `degree`; with no rule of its clause
    /// or sentence yet.
    fn new(
        term: &'t str,
        info: Option<&TermInfo>,
        clause: u32,
        negated: bool,
        degree: f32,
        negator: bool,
    ) -> Hit<'t> {
        Hit {
            term,
            id: info.map_or(NO_ID, |i| i.id),
            curated: info.map_or(0.0, |i| i.curated),
            learned: info.map_or(0.0, |i| i.learned),
            emotion_row: info.map_or(NO_ROW, |i| i.emotion_row),
            emotion: info.and_then(|i| i.emotion),
            clause,
            modifier: degree * if negated { NEGATED } else { 1.0 },
            negated,
            overcome: false,
            forbidden: false,
            negator,
            degree,
            clause_rule: 0,
            sentence_rule: 0,
            plain: None,
        }
    }

    /// A word of hardship: of negative curated weight, or of a negative emotion (怒 哀 惧 恶,
    /// classes 2 to 5).
    fn is_hardship(&self) -> bool {
        self.curated < 0.0
            || self
                .emotion
                .is_some_and(|(class, _)| (2..=5).contains(&class))
    }

    /// Whether its learned emotion weights count, in training and in scoring alike: not when it
    /// is negated ("不开心" says joy is absent, not its opposite), nor in an inquiry or a notice
    /// ("请问隔离结束后需要做什么手续" had read as sadness).
    fn learned_emotion(&self) -> bool {
        !self.negated && self.plain.is_none()
    }

    /// Read as a hardship got through: negated, and so of no emotion.
    fn overcome(&mut self) {
        self.modifier *= NEGATED;
        self.negated = true;
        self.overcome = true;
    }
}

pub struct Engine {
    jieba: Jieba,
    /// Every word the engine knows something about; `compile` turns it into `table`.
    terms: FxHashMap<String, TermInfo>,
    table: TermTable<TermInfo>,
    /// Learned weights of neighbouring terms, keyed by their two ids. Most neighbours are not
    /// a learned pair (30,000 of them), which the filter says without a cache miss.
    pair_weights: FilteredMap<f32>,
    /// The curated attribute–quality pairs of `collocations.tsv` (效率 低), as written, and
    /// keyed by their two ids (with the degree-and-quality words of the segmenter, 太低).
    collocations: Vec<(String, String, f32)>,
    quality_weights: FilteredMap<f32>,
    /// The ids of the quality words of those pairs, as bits: most candidates are none, which
    /// one bit of this small set says before the pair is looked up.
    quality_ids: Vec<u64>,
    emoticons: Vec<Emoticon>,
    topics: Vec<&'static str>,
    topic_names: Vec<String>,
    crisis: CrisisMatcher,
    normaliser: Normaliser,
    inquiries: inquiry::Inquiries,
    /// IDF of a word that no dictionary holds (a run of ASCII letters and digits):
    /// the background list's median, as jieba's own TF-IDF gives an unlisted word. At the
    /// maximum, fragments such as 没人查 and 太气 (of 太气人了) led every text's keywords.
    oov_idf: f32,
    learned: Learned,
    /// Learned emotion weights by row (terms point here through `TermInfo::emotion_row`).
    emotion_rows: Vec<[f32; 6]>,
    emotion_bias: [f32; 6],
    /// Each emoticon's learned emotion weights, if it has any.
    emoticon_rows: Vec<Option<[f32; 6]>>,
    /// The learned emotion weights of the polarity score (`POLARITY_FEATURE`).
    polarity_row: [f32; 6],
}

/// What a scoped thread returned; its panic goes on in the caller.
fn joined<T>(handle: std::thread::ScopedJoinHandle<'_, T>) -> T {
    handle
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

fn data_lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .map(str::trim_end)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
}

impl Engine {
    /// The engine on the embedded dictionaries.
    pub fn embedded() -> Result<Engine> {
        Engine::new(&Dictionaries::embedded())
    }

    /// The embedded dictionaries, overridden file by file from `dir`, or else from the
    /// directory XINQING_DICTIONARIES names.
    pub fn load(dir: Option<&Path>) -> Result<Engine> {
        let from_env = std::env::var_os("XINQING_DICTIONARIES").map(std::path::PathBuf::from);
        match dir.or(from_env.as_deref()) {
            Some(d) => Engine::new(&Dictionaries::with_overrides(d)?)
                .with_context(|| format!("dictionaries in {}", d.display())),
            None => Engine::embedded(),
        }
    }

    pub fn new(d: &Dictionaries) -> Result<Engine> {
        // Loading the segmenter's dictionary and parsing the learned weights (0.02 s each)
        // run on threads of their own while the rest is built.
        std::thread::scope(|s| {
            let segmenter = s.spawn(|| -> Result<Jieba> {
                let mut jieba = segmenter::segmenter(&d.segmenter)?;
                jieba
                    .load_dict(&mut d.user_dict.as_bytes())
                    .context("user_dict.txt")?;
                Ok(jieba)
            });
            let learned = s.spawn(|| -> Result<(Learned, LearnedEmotions)> {
                Ok((
                    Learned::parse(&d.learned)?,
                    LearnedEmotions::parse(&d.emotions_learned)?,
                ))
            });
            let mut engine = Engine::assemble(d)?;
            let (learned, emotions) = joined(learned)?;
            engine.apply_learned(learned);
            engine.apply_learned_emotions(emotions);
            engine.jieba = joined(segmenter)?;
            // A curated word (a lexicon, emotion, rule or topic word) is read only when the cut
            // leaves it whole. One the segmenter lacks, or holds too rarely ("无语" came out as
            // 无 + 语), gets just the frequency that joins it when it stands alone: not more, so
            // that a word around it still wins ("我的天空" stays 我 的 天空, not 我的天 空).
            for w in &engine.curated_cut_apart() {
                engine.jieba.add_word(w, None, None);
            }
            // After the segmenter: it says which words no dictionary holds.
            engine.compile();
            Ok(engine)
        })
    }

    /// The engine on `d` but for its segmenter (empty) and learned weights (none).
    fn assemble(d: &Dictionaries) -> Result<Engine> {
        let mut terms: FxHashMap<String, TermInfo> = FxHashMap::default();
        fn entry<'m>(terms: &'m mut FxHashMap<String, TermInfo>, word: &str) -> &'m mut TermInfo {
            terms.entry(word.to_string()).or_default()
        }
        for line in data_lines(&d.idf) {
            if let Some((w, v)) = line.split_once('\t') {
                entry(&mut terms, w).idf = v.trim().parse().context("background_idf.tsv")?;
            }
        }
        for w in data_lines(&d.stopwords).flat_map(str::split_whitespace) {
            entry(&mut terms, w).stop = true;
        }
        for w in data_lines(&d.function_words).flat_map(str::split_whitespace) {
            let info = entry(&mut terms, w);
            info.stop = true;
            info.function = true;
        }
        for line in data_lines(&d.polarity) {
            let (w, v) = line
                .split_once('\t')
                .context("polarity.tsv: term<TAB>weight")?;
            entry(&mut terms, w).curated = v
                .trim()
                .parse()
                .with_context(|| format!("polarity.tsv: {line}"))?;
        }
        for line in data_lines(&d.emotions) {
            let mut parts = line.split('\t');
            let (Some(w), Some(class), Some(v)) = (parts.next(), parts.next(), parts.next()) else {
                anyhow::bail!("emotions.tsv: expected word, emotion, weight in '{line}'");
            };
            let class = EMOTIONS
                .iter()
                .position(|e| *e == class)
                .with_context(|| format!("emotions.tsv: unknown emotion '{class}'"))?;
            entry(&mut terms, w).emotion =
                Some((class as u8, v.trim().parse().context("emotions.tsv")?));
        }
        // A word said twice over, character by character (干干净净, 开开心心), says what the
        // word says: it gets the word's weight and emotion unless it has its own.
        let doubled: Vec<(String, String)> = terms
            .iter()
            .filter(|(_, i)| i.curated != 0.0 || i.emotion.is_some())
            .filter_map(|(w, _)| {
                let mut chars = w.chars();
                match (chars.next(), chars.next(), chars.next()) {
                    (Some(a), Some(b), None) if a != b => {
                        Some((format!("{a}{a}{b}{b}"), w.clone()))
                    }
                    _ => None,
                }
            })
            .collect();
        for (twice, word) in doubled {
            let (curated, emotion) = (terms[&word].curated, terms[&word].emotion);
            let info = entry(&mut terms, &twice);
            if info.curated == 0.0 && info.emotion.is_none() {
                (info.curated, info.emotion) = (curated, emotion);
            }
        }
        // Roles last: a negator or degree word is never itself a sentiment word.
        for w in data_lines(&d.negators) {
            entry(&mut terms, w.trim()).role = Role::Negator;
        }
        for (text, file, role) in [
            (&d.degree, "degree.txt", Role::Degree as fn(f32) -> Role),
            (&d.complements, "complements.txt", Role::Complement),
        ] {
            for line in data_lines(text) {
                let (w, v) = line
                    .split_once('\t')
                    .with_context(|| format!("{file}: word<TAB>multiplier"))?;
                entry(&mut terms, w).role = role(v.trim().parse().context(file)?);
            }
        }
        for w in data_lines(&d.adversatives) {
            entry(&mut terms, w.trim()).role = Role::Adversative;
        }
        // Verbs of getting through, then (after `[after]`) words of relief said after the
        // hardship only.
        let mut role = Role::Overcome;
        for w in data_lines(&d.overcomes) {
            if w.trim() == "[after]" {
                role = Role::Relief;
                continue;
            }
            entry(&mut terms, w.trim()).role = role;
        }
        let mut topics = Vec::new();
        let mut topic_names = Vec::new();
        for line in data_lines(&d.topics) {
            let mut parts = line.split('\t');
            let (Some(id), Some(name), Some(words)) = (parts.next(), parts.next(), parts.next())
            else {
                anyhow::bail!("topics.tsv: expected topic, name, keywords in '{line}'");
            };
            if topics.len() == 16 {
                anyhow::bail!("topics.tsv: at most 16 topics");
            }
            let bit = 1u16 << topics.len();
            topics.push(&*Box::leak(id.to_string().into_boxed_str()));
            topic_names.push(name.trim().to_string());
            for w in words.split_whitespace() {
                entry(&mut terms, w).topics |= bit;
            }
        }
        let mut collocations = Vec::new();
        for line in data_lines(&d.collocations) {
            let mut parts = line.split('\t');
            let (Some(a), Some(b), Some(w), None) =
                (parts.next(), parts.next(), parts.next(), parts.next())
            else {
                anyhow::bail!("collocations.tsv: expected attribute, quality, weight in '{line}'");
            };
            let w: f32 = w
                .trim()
                .parse()
                .with_context(|| format!("collocations.tsv: '{w}' is not a number in '{line}'"))?;
            // Both words need ids to key the pair.
            entry(&mut terms, a);
            entry(&mut terms, b);
            collocations.push((a.to_string(), b.to_string(), w));
        }
        let mut emoticons = Vec::new();
        for line in data_lines(&d.emoticons) {
            let mut parts = line.split('\t');
            let (Some(tag), Some(p), Some(e)) = (parts.next(), parts.next(), parts.next()) else {
                anyhow::bail!("emoticons.tsv: expected tag, polarity, emotion in '{line}'");
            };
            emoticons.push(Emoticon {
                tag: tag.to_string(),
                polarity: p.trim().parse().context("emoticons.tsv")?,
                emotion: EMOTIONS
                    .iter()
                    .position(|x| *x == e.trim())
                    .map(|i| i as u8),
            });
        }
        let mut listed: Vec<f32> = terms
            .values()
            .map(|i| i.idf)
            .filter(|&idf| idf != UNKNOWN_IDF)
            .collect();
        let oov_idf = if listed.is_empty() {
            UNKNOWN_IDF
        } else {
            let mid = listed.len() / 2;
            *listed.select_nth_unstable_by(mid, f32::total_cmp).1
        };
        let keys: Vec<String> = emoticons.iter().map(|e| e.tag.clone()).collect();
        let rarity = LiteralRarity::new(&terms);
        let crisis = CrisisMatcher::new(&d.crisis, &d.crisis_model, &|literal| rarity.of(literal))?;
        let engine = Engine {
            jieba: Jieba::empty(),
            terms,
            table: TermTable::new(std::iter::empty()),
            pair_weights: FilteredMap::new([]),
            collocations,
            quality_weights: FilteredMap::new([]),
            quality_ids: Vec::new(),
            emoticons,
            topics,
            topic_names,
            crisis,
            normaliser: Normaliser::new(&d.t2s, &keys),
            inquiries: inquiry::Inquiries::parse(&d.inquiries)?,
            oov_idf,
            learned: Learned::default(),
            emotion_rows: Vec::new(),
            emotion_bias: [0.0; 6],
            emoticon_rows: Vec::new(),
            polarity_row: [0.0; 6],
        };
        Ok(engine)
    }

    /// The curated words (lexicon, emotion, rule and topic words) the segmenter cuts apart when
    /// each stands alone: those it lacks or holds too rarely.
    fn curated_cut_apart(&self) -> Vec<String> {
        self.terms
            .iter()
            .filter(|(w, i)| i.is_curated() && self.jieba.cut(w, false).len() > 1)
            .map(|(w, _)| w.clone())
            .collect()
    }

    /// The words the curated dictionaries name (lexicon, emotion, rule, topic and stop words),
    /// which the segmenter's dictionary keeps however rare.
    pub fn curated_words(&self) -> impl Iterator<Item = &str> {
        self.terms
            .iter()
            .filter(|(_, i)| i.is_curated() || i.stop)
            .map(|(w, _)| w.as_str())
    }

    /// Replaces the learned weights (k-fold evaluation trains one set per fold).
    pub fn set_learned(&mut self, learned: Learned) {
        self.apply_learned(learned);
        self.compile();
    }

    fn apply_learned(&mut self, learned: Learned) {
        for info in self.terms.values_mut() {
            info.learned = 0.0;
        }
        for (term, &w) in &learned.weights {
            self.terms.entry(term.clone()).or_default().learned = w;
        }
        // A pair's terms need ids to key its weight.
        for (pair, _) in &learned.pairs {
            for term in pair.split(' ') {
                self.terms.entry(term.to_string()).or_default();
            }
        }
        self.learned = learned;
    }

    /// Builds the look-up table from `terms`, and the pair weights by id.
    fn compile(&mut self) {
        // The segmenter holds degree and quality as one word (很高, 太慢, 太少): an attribute's
        // pair with it is the pair with the quality, by the degree.
        let degrees: Vec<(String, f32)> = self
            .terms
            .iter()
            .filter_map(|(w, i)| match i.role {
                Role::Degree(m) => Some((w.clone(), m)),
                _ => None,
            })
            .collect();
        let mut fused = Vec::new();
        for (a, b, w) in &self.collocations {
            for (degree, m) in &degrees {
                let word = format!("{degree}{b}");
                if self.jieba.has_word(&word)
                    && !self.terms.get(&word).is_some_and(|i| i.role != Role::Plain)
                {
                    fused.push((a.clone(), word, w * m));
                }
            }
        }
        for (_, word, _) in &fused {
            self.terms.entry(word.clone()).or_default();
        }
        let mut ordered: Vec<(String, TermInfo)> =
            self.terms.iter().map(|(w, i)| (w.clone(), *i)).collect();
        for (id, (word, info)) in ordered.iter_mut().enumerate() {
            info.id = id as u32;
            info.idf = self.idf_of_unlisted(word, info.idf);
            // A number is neither sentiment nor a keyword: "两百多" led a report's keywords.
            if !info.is_curated() && is_numeral(word) {
                info.function = true;
                info.stop = true;
            }
        }
        self.table = TermTable::new(ordered);
        let table = &self.table;
        let pairs: Vec<(u32, u32, f32)> = self
            .collocations
            .iter()
            .chain(&fused)
            .filter_map(|(a, b, w)| Some((table.id(a)?, table.id(b)?, *w)))
            .collect();
        self.quality_ids = vec![0; table.len().div_ceil(64)];
        for &(_, b, _) in &pairs {
            self.quality_ids[b as usize / 64] |= 1 << (b % 64);
        }
        self.quality_weights = FilteredMap::new(pairs.iter().map(|&(a, b, w)| (pair_id(a, b), w)));
        self.pair_weights = FilteredMap::new(self.learned.pairs.iter().filter_map(|(pair, w)| {
            let (a, b) = pair.split_once(' ')?;
            Some((pair_id(table.id(a)?, table.id(b)?), *w))
        }));
    }

    /// Replaces the learned emotion weights (k-fold evaluation trains one set per fold). With
    /// none, the dominant emotion comes from the curated lexicon alone.
    pub fn set_learned_emotions(&mut self, learned: LearnedEmotions) {
        self.apply_learned_emotions(learned);
        self.compile();
    }

    fn apply_learned_emotions(&mut self, learned: LearnedEmotions) {
        for info in self.terms.values_mut() {
            info.emotion_row = NO_ROW;
        }
        self.emotion_rows.clear();
        self.emoticon_rows = vec![None; self.emoticons.len()];
        self.polarity_row = [0.0; 6];
        for (term, row) in learned.weights {
            if term == POLARITY_FEATURE {
                self.polarity_row = row;
                continue;
            }
            if let Some(i) = self.emoticons.iter().position(|e| e.tag == term) {
                self.emoticon_rows[i] = Some(row);
                continue;
            }
            self.terms.entry(term).or_default().emotion_row = self.emotion_rows.len() as u32;
            self.emotion_rows.push(row);
        }
        self.emotion_bias = learned.bias;
    }

    /// Emotion features of a text for training: the terms that are not negated, with their
    /// degree, and the emoticons; and the curated lexicon's offset to the logits, which the
    /// learned weights are trained beside, as the polarity weights are beside the curated ones.
    pub(crate) fn emotion_features(&self, text: &str) -> (Vec<(String, f32)>, [f32; 6]) {
        self.read(text, |normalised, tokens, infos, hits| {
            // The polarity score as the engine gives it, with the learned polarity weights in
            // place, from the same reading.
            let score = self
                .analysis_of(normalised, tokens, infos, &hits, false)
                .score;
            let features = hits
                .iter()
                .filter(|h| h.learned_emotion())
                .map(|h| (h.term.to_string(), h.degree))
                .chain(
                    normalised
                        .emoticons
                        .iter()
                        .map(|&i| (self.emoticons[i].tag.clone(), 1.0)),
                )
                .chain((score != 0.0).then(|| (POLARITY_FEATURE.to_string(), score)))
                .collect();
            let curated = self.curated_emotions(&hits, &normalised.emoticons);
            (features, lexicon_offset(&curated))
        })
    }

    /// The curated lexicon's evidence for each of the seven emotions: its emotion words that
    /// are not negated, by degree, and the emoticons. A negated emotion word ("不开心") says
    /// the emotion is absent, not its opposite.
    fn curated_emotions(&self, hits: &[Hit<'_>], emoticons: &[usize]) -> [f32; 7] {
        let mut emotions = [0.0f32; 7];
        for h in hits.iter().filter(|h| !h.negated) {
            if let Some((class, w)) = h.emotion {
                emotions[class as usize] += w * h.degree;
            }
        }
        for &i in emoticons {
            let e = &self.emoticons[i];
            if let Some(class) = e.emotion {
                emotions[class as usize] += e.polarity.abs();
            }
        }
        emotions
    }

    /// Probabilities of `EMOTION_CLASSES` from the learned weights, the curated lexicon's
    /// `offset` to their logits and the text's polarity `score`; `None` when no term or emoticon
    /// of the text has a learned weight and the lexicon names no emotion (the bias alone is no
    /// evidence, nor is the score).
    fn emotion_probabilities(
        &self,
        hits: &[Hit<'_>],
        emoticons: &[usize],
        offset: &[f32; 6],
        score: f32,
    ) -> Option<[f32; 6]> {
        let mut z = self.emotion_bias;
        for ((zc, o), w) in z.iter_mut().zip(offset).zip(&self.polarity_row) {
            *zc += o + w * score;
        }
        let mut evidence = offset.iter().any(|&o| o != 0.0);
        let mut add = |row: &[f32; 6], x: f32| {
            evidence = true;
            for (zc, w) in z.iter_mut().zip(row) {
                *zc += w * x;
            }
        };
        for h in hits
            .iter()
            .filter(|h| h.learned_emotion() && h.emotion_row != NO_ROW)
        {
            add(&self.emotion_rows[h.emotion_row as usize], h.degree);
        }
        for row in emoticons
            .iter()
            .filter_map(|&i| self.emoticon_rows[i].as_ref())
        {
            add(row, 1.0);
        }
        evidence.then(|| softmax(z))
    }

    /// The topics of `topics.tsv` in order: (id, Chinese name).
    pub fn topic_names(&self) -> Vec<(String, String)> {
        self.topics
            .iter()
            .zip(&self.topic_names)
            .map(|(id, name)| (id.to_string(), name.clone()))
            .collect()
    }

    /// The words that stand out across a set of texts: each keyword-worthy word scored by the
    /// number of texts it appears in times its background IDF. Returns (word, texts) for the
    /// `top` best. Redaction placeholders such as 〔手机号〕 are skipped.
    pub fn hot_words<'a>(
        &self,
        texts: impl IntoIterator<Item = &'a str>,
        top: usize,
    ) -> Vec<(String, usize)> {
        let mut docs: FxHashMap<String, (usize, f32)> = FxHashMap::default();
        for text in texts {
            let normalised = self.normaliser.normalise(&strip_placeholders(text));
            let mut seen: Vec<&str> = Vec::new();
            for w in self.tokens(&normalised.text) {
                if w.len() < 4 || !is_wordy(w) || seen.contains(&w) {
                    continue;
                }
                let info = self.info(w);
                if info.is_some_and(|i| i.stop || i.role != Role::Plain) {
                    continue;
                }
                seen.push(w);
                let idf = info.map_or_else(|| self.idf_of_unlisted(w, UNKNOWN_IDF), |i| i.idf);
                docs.entry(w.to_string()).or_insert((0, idf)).0 += 1;
            }
        }
        let mut ranked: Vec<(String, usize, f32)> = docs
            .into_iter()
            .map(|(w, (n, idf))| (w, n, n as f32 * idf))
            .collect();
        ranked.sort_by(|a, b| b.2.total_cmp(&a.2).then_with(|| a.0.cmp(&b.0)));
        ranked
            .into_iter()
            .take(top)
            .map(|(w, n, _)| (w, n))
            .collect()
    }

    /// The analysis cut short after a stage, for the benchmark's breakdown: 0 normalise,
    /// 1 and segment, 2 and look up and walk the tokens, 3 and assess crisis risk, 4 (or
    /// more) the whole analysis.
    #[doc(hidden)]
    pub fn bench_stage(&self, text: &str, stage: u8) -> usize {
        match stage {
            0 => self.normaliser.normalise(text).text.len(),
            1 => self.tokens(&self.normaliser.normalise(text).text).len(),
            2 => self.read(text, |_, _, _, hits| hits.len()),
            3 => self.read(text, |normalised, _, _, hits| {
                self.crisis.assess(&normalised.crisis_text()).terms.len() + hits.len()
            }),
            _ => self.analyze(text).terms.len(),
        }
    }

    /// The tokens of a normalised text, as jieba cuts it without its HMM: words of the
    /// segmenter's dictionary, single characters and runs of ASCII letters and digits. The HMM
    /// joins characters into words no dictionary holds; no lexicon weighs those, and their
    /// learned weights were noise (read by their characters, 5-fold macro-F1 rose on both
    /// shared files). Without it the cut takes a tenth less time and 5-fold figures held.
    fn tokens<'t>(&self, normalised: &'t str) -> Vec<&'t str> {
        self.jieba
            .cut(normalised, false)
            .into_iter()
            .map(|t| t.word)
            .collect()
    }

    /// The tokens of a text, after normalisation, as the engine sees them.
    pub fn segment(&self, text: &str) -> Vec<String> {
        let normalised = self.normaliser.normalise(text);
        self.tokens(&normalised.text)
            .into_iter()
            .filter(|w| !w.trim().is_empty())
            .map(str::to_string)
            .collect()
    }

    /// A text as the crisis detectors read it (normalised: traditional characters converted,
    /// emoticons taken out but for a joke's mark), for training and measuring the learned
    /// screen. The screen learns a repost chain's own words only: learned from whole chains of
    /// the Weibo background, it raised more false alarms on the held-out ordinary sets.
    pub fn crisis_text(&self, text: &str) -> String {
        self.normaliser
            .normalise(text)
            .own_crisis_text()
            .into_owned()
    }

    /// A text from `crisis_text` as the learned screen reads it (hard negatives masked).
    pub fn screen_text(&self, crisis_text: &str) -> String {
        self.crisis.screen_text(crisis_text)
    }

    /// What a crisis screen (one being measured) finds on a text from `crisis_text`, read as
    /// the engine reads it for its own.
    pub fn screen_with(
        &self,
        model: &crisis_model::CrisisModel,
        crisis_text: &str,
    ) -> Option<crisis_model::Screen> {
        self.crisis.screen_with(model, crisis_text)
    }

    /// The patterns and cues alone, without the learned screen, on a text from `crisis_text`.
    pub fn crisis_rules(&self, crisis_text: &str) -> Risk {
        self.crisis.assess_rules(crisis_text).risk
    }

    fn info(&self, word: &str) -> Option<&TermInfo> {
        self.table.get(word)
    }

    /// A word's IDF: `idf` if the background lists it, else by whether a dictionary holds it.
    fn idf_of_unlisted(&self, word: &str, idf: f32) -> f32 {
        if idf != UNKNOWN_IDF || self.jieba.has_word(word) {
            idf
        } else {
            self.oov_idf
        }
    }

    /// Walks the tokens clause by clause and returns every sentiment candidate with the
    /// multiplier the rules give it.
    pub(crate) fn walk<'t>(&self, tokens: &[&'t str], infos: &[Option<&TermInfo>]) -> Vec<Hit<'t>> {
        // Every token may be a hit: sized once (half of that grew the vector in a third of texts).
        let mut hits: Vec<Hit<'t>> = Vec::with_capacity(tokens.len());
        let mut clause_start = 0;
        let mut negated = false;
        // Whether the negation is a prohibition (别, 不要), which tells of what is done.
        let mut prohibited = false;
        let mut degree = 1.0f32;
        let mut adversative_at: Option<usize> = None;
        let mut clause = 0u32;
        // The token the last hit was read from: a complement scales it only from just after.
        let mut last_hit_token: Option<usize> = None;
        // The last negator's token, and how many words after a verb of overcoming may still
        // be the hardship it gets through.
        let mut last_negator_token: Option<usize> = None;
        let mut overcome_left = 0u8;
        let close_clause = |hits: &mut Vec<Hit<'t>>, start: usize, end_token: &str| {
            let rule = match end_token {
                "？" | "?" => Some((RULE_QUESTION, QUESTION)),
                "！" | "!" => Some((RULE_EXCLAMATION, EXCLAMATION)),
                _ => None,
            };
            if let Some((rule, m)) = rule {
                for h in &mut hits[start..] {
                    h.modifier *= m;
                    h.sentence_rule = rule;
                }
            }
        };
        for (i, &word) in tokens.iter().enumerate() {
            if is_clause_break(word) {
                close_clause(&mut hits, clause_start, word);
                clause_start = hits.len();
                clause += 1;
                negated = false;
                prohibited = false;
                degree = 1.0;
                overcome_left = 0;
                continue;
            }
            if is_blank(word) {
                continue;
            }
            let info = infos[i];
            match info.map_or(Role::Plain, |i| i.role) {
                Role::Negator => {
                    // Negation says something of its own ("还没出来" complains of a delay): the
                    // negator is a candidate too, read plainly, before it turns the next word.
                    hits.push(Hit::new(word, info, clause, false, 1.0, true));
                    negated = !negated;
                    prohibited = matches!(word, "别" | "不要" | "甭" | "勿" | "莫");
                    last_negator_token = Some(i);
                    continue;
                }
                Role::Degree(m) => {
                    degree *= m;
                    continue;
                }
                Role::Adversative => {
                    adversative_at = Some(hits.len());
                    continue;
                }
                Role::Complement(m) => {
                    // 开心死了 is very happy, and 笑死我了 laughter: 死 read as a word of its own
                    // made both negative. After a word of no lexicon (病人死了) it is one.
                    let host = hits
                        .last_mut()
                        .filter(|_| last_hit_token.map(|t| t + 1) == Some(i))
                        .filter(|h| h.curated != 0.0 || h.emotion.is_some());
                    if let Some(h) = host {
                        h.modifier *= m;
                        h.degree *= m;
                        continue;
                    }
                }
                Role::Overcome | Role::Relief | Role::Plain => {}
            }
            // 好 before a number of times or a stretch of time (好几次, 好多天, 好半天) says
            // "quite a few", not "good": "反映了好几次" complains.
            if word == "好" && tokens.get(i + 1).is_some_and(|n| counts_times(n)) {
                continue;
            }
            // A number the table does not hold is no candidate either (those it holds say so
            // themselves): learned again whenever it fell out of the table, it made training
            // give other weights at each round.
            let function = match info {
                Some(i) => i.function,
                None => is_numeral(word),
            };
            if function || !is_wordy(word) {
                // A question particle at the end of a clause makes it a question.
                if matches!(word, "吗" | "么")
                    && tokens.get(i + 1).is_none_or(|n| is_clause_break(n))
                {
                    for h in &mut hits[clause_start..] {
                        h.modifier *= QUESTION;
                        h.sentence_rule = RULE_QUESTION;
                    }
                    clause_start = hits.len();
                }
                continue;
            }
            // "别再敷衍了", "不要再拖了": to forbid a wrong is to complain that it is done, and
            // the wrong keeps its weight. To forbid a worry or a fear ("别担心", "不要害怕")
            // comforts, and is read as negated.
            let forbidden = negated
                && prohibited
                && info.is_some_and(|i| {
                    (i.curated < 0.0 || (i.curated == 0.0 && i.learned < 0.0))
                        && !i.emotion.is_some_and(|(class, _)| matches!(class, 3 | 4))
                });
            let mut hit = Hit::new(word, info, clause, negated && !forbidden, degree, false);
            hit.forbidden = forbidden;
            if overcome_left > 0 {
                overcome_left -= 1;
                if hit.is_hardship() && !hit.negated {
                    hit.overcome();
                }
            }
            let role = info.map_or(Role::Plain, |i| i.role);
            if matches!(role, Role::Overcome | Role::Relief) {
                // Not when it is denied: 没能走出, 无法摆脱, 还没有缓解.
                let denied = negated || last_negator_token.is_some_and(|n| i - n <= 2);
                // Nor, for the hardship before it, when a negator follows: 压力减轻不了.
                let denied_after = infos
                    .get(i + 1)
                    .is_some_and(|n| n.is_some_and(|n| n.role == Role::Negator));
                if !denied && !denied_after {
                    // The hardship just before it, among the last few words of its clause:
                    // "焦虑缓解", "失眠症状明显改善".
                    if let Some(h) = hits[clause_start..]
                        .iter_mut()
                        .rev()
                        .take(OVERCOME_SCOPE as usize)
                        .find(|h| h.is_hardship() && !h.negated)
                    {
                        h.overcome();
                    }
                }
                if role == Role::Overcome {
                    overcome_left = if denied { 0 } else { OVERCOME_SCOPE };
                }
            }
            hits.push(hit);
            last_hit_token = Some(i);
            negated = false;
            prohibited = false;
            degree = 1.0;
        }
        if let Some(last) = tokens.last() {
            if !is_clause_break(last) {
                close_clause(&mut hits, clause_start, "");
            }
        }
        if let Some(at) = adversative_at {
            for (i, h) in hits.iter_mut().enumerate() {
                let (rule, m) = if i < at {
                    (RULE_EARLIER, EARLIER_CLAUSE)
                } else {
                    (RULE_LATER, LATER_CLAUSE)
                };
                h.modifier *= m;
                h.clause_rule = rule;
            }
        }
        hits
    }

    /// Normalises, segments and walks a text, and hands the pieces to `then`. One look-up per
    /// token serves the walk, the topics and the keywords.
    fn read<R>(
        &self,
        text: &str,
        then: impl FnOnce(&normalize::Normalised, &[&str], &[Option<&TermInfo>], Vec<Hit<'_>>) -> R,
    ) -> R {
        let normalised = self.normaliser.normalise(text);
        let tokens = self.tokens(&normalised.text);
        let infos: Vec<Option<&TermInfo>> = tokens
            .iter()
            .map(|w| if may_be_term(w) { self.info(w) } else { None })
            .collect();
        let mut hits = self.walk(&tokens, &infos);
        self.mark_inquiries(&normalised.text, &mut hits);
        then(&normalised, &tokens, &infos, hits)
    }

    /// Marks the hits of the sentences that ask for information or announce it (`Hit::plain`).
    fn mark_inquiries(&self, normalised: &str, hits: &mut [Hit<'_>]) {
        let mut spans = self.inquiries.spans(normalised);
        if spans.is_empty() {
            return;
        }
        let base = normalised.as_ptr() as usize;
        // Every term is a slice of the normalised text.
        let at = |h: &Hit<'_>| (h.term.as_ptr() as usize).wrapping_sub(base);
        // A request that tells of a hardship or denies something complains ("恳请领导关注一下，
        // 我们楼已经三天没有送物资了"): its words keep their weights.
        spans.retain(|(s, kind)| {
            *kind != inquiry::Plain::Request
                || !hits
                    .iter()
                    .any(|h| s.contains(&at(h)) && (h.negator || h.negated || h.is_hardship()))
        });
        if spans.is_empty() {
            return;
        }
        for i in 0..hits.len() {
            let at = at(&hits[i]);
            let plain = spans.iter().find(|(s, _)| s.contains(&at)).map(|(_, p)| *p);
            let opens_clause = i == 0 || hits[i - 1].clause != hits[i].clause;
            let h = &mut hits[i];
            h.plain = plain;
            match plain {
                Some(inquiry::Plain::Request) => {
                    // What opens a request, and what says what it is for (方便 opening "…，
                    // 方便老人就近检测"), is neither hope nor praise.
                    let purpose = opens_clause && matches!(h.term, "方便" | "便于" | "以便");
                    if purpose || self.inquiries.opens_request(h.term) {
                        h.curated = 0.0;
                        h.emotion = None;
                    }
                }
                Some(inquiry::Plain::Inquiry) => {
                    // What it asks about is no judgement (`[topics]`): neither polarity nor
                    // emotion.
                    if self.inquiries.is_topic(h.term) {
                        h.curated = 0.0;
                        h.emotion = None;
                    }
                    // An inquiry is a question even without its mark.
                    if h.sentence_rule == 0 {
                        h.modifier *= QUESTION;
                        h.sentence_rule = RULE_QUESTION;
                    }
                }
                Some(inquiry::Plain::Notice) | None => {}
            }
        }
    }

    /// Sentiment candidates of a text for training: (term, multiplier), and the emoticons'
    /// fixed contribution.
    pub(crate) fn features(&self, text: &str) -> (Vec<(String, f32)>, f32) {
        self.read(text, |normalised, _, _, hits| {
            self.features_of(normalised, &hits)
        })
    }

    fn features_of(
        &self,
        normalised: &normalize::Normalised,
        hits: &[Hit<'_>],
    ) -> (Vec<(String, f32)>, f32) {
        let qualities: f32 = (0..hits.len())
            .filter_map(|i| {
                let (quality, w) = self.quality_of(hits, i)?;
                Some(w * quality.modifier)
            })
            .sum();
        let curated: f32 = hits.iter().map(|h| h.modifier * h.curated).sum::<f32>() + qualities;
        let emoticons: f32 = normalised
            .emoticons
            .iter()
            .map(|&i| self.emoticons[i].polarity)
            .sum();
        // The words of inquiries and notices are learned from too: their learned weight does
        // not count there, but does where they are said elsewhere, and leaving them out put the
        // whole text's label on its other words (5-fold macro-F1 0.8625 and 0.8722 on the two
        // shared files without them, 0.8639 and 0.8733 with them).
        let mut features: Vec<(String, f32)> = hits
            .iter()
            .map(|h| (h.term.to_string(), h.modifier))
            .collect();
        for (a, b) in neighbour_pairs(hits) {
            let (a, b) = (&hits[a], &hits[b]);
            features.push((format!("{} {}", a.term, b.term), b.modifier));
        }
        (features, curated + emoticons)
    }

    /// The quality word hit `i` is the attribute of (`collocations.tsv`), with the pair's
    /// curated weight: the next candidate in its clause past any negator (效率 不 高), whose
    /// modifier then carries the negation.
    #[inline]
    fn quality_of<'h, 't>(&self, hits: &'h [Hit<'t>], i: usize) -> Option<(&'h Hit<'t>, f32)> {
        let a = &hits[i];
        let q = hits[i + 1..].iter().find(|h| !h.negator)?;
        if !self.is_quality(q.id) || a.negator || a.id == NO_ID || q.clause != a.clause {
            return None;
        }
        Some((q, self.quality_weights.get(pair_id(a.id, q.id))?))
    }

    /// Whether the term of id `id` is the quality word of some attribute–quality pair.
    #[inline(always)]
    fn is_quality(&self, id: u32) -> bool {
        self.quality_ids
            .get(id as usize / 64)
            .is_some_and(|bits| bits >> (id % 64) & 1 != 0)
    }

    pub fn analyze(&self, text: &str) -> Analysis {
        self.read(text, |normalised, tokens, infos, hits| {
            self.analysis_of(normalised, tokens, infos, &hits, true)
        })
    }

    /// The analysis without explanations (`terms`) or keywords: the same polarity, score,
    /// emotions, risk and topics, for ingest, which stores only those.
    pub fn analyze_brief(&self, text: &str) -> Analysis {
        self.read(text, |normalised, tokens, infos, hits| {
            self.analysis_of(normalised, tokens, infos, &hits, false)
        })
    }

    fn analysis_of(
        &self,
        normalised: &normalize::Normalised,
        tokens: &[&str],
        infos: &[Option<&TermInfo>],
        hits: &[Hit<'_>],
        explain: bool,
    ) -> Analysis {
        let mut raw = 0.0f32;
        let curated_emotions = self.curated_emotions(hits, &normalised.emoticons);
        let mut emotions = curated_emotions;
        // Explanations are written out only for the terms that are kept.
        // Sized once: every hit, neighbouring pair and emoticon may add one.
        let mut pending: Vec<(f32, Pending<'_, '_>)> =
            Vec::with_capacity(2 * hits.len() + normalised.emoticons.len());
        for h in hits {
            let learned = if h.plain.is_some() { 0.0 } else { h.learned };
            let contribution = (h.curated + learned) * h.modifier;
            if contribution.abs() >= 0.01 {
                raw += contribution;
                pending.push((contribution, Pending::Term(h)));
            }
        }
        if !self.pair_weights.is_empty() || !self.quality_weights.is_empty() {
            for (i, j) in neighbour_pairs(hits) {
                let (a, b) = (&hits[i], &hits[j]);
                if a.id == NO_ID || b.id == NO_ID {
                    continue;
                }
                let learned = if b.plain.is_some() {
                    None
                } else {
                    self.pair_weights.get(pair_id(a.id, b.id))
                };
                // Most neighbours are no quality word, which one bit says.
                let quality = if self.is_quality(b.id) {
                    self.quality_weights.get(pair_id(a.id, b.id))
                } else {
                    None
                };
                // An attribute and its quality: one pair, both weights.
                if learned.is_some() || quality.is_some() {
                    let contribution =
                        (learned.unwrap_or(0.0) + quality.unwrap_or(0.0)) * b.modifier;
                    raw += contribution;
                    pending.push((contribution, Pending::Pair(a, b)));
                }
            }
        }
        for &i in &normalised.emoticons {
            let e = &self.emoticons[i];
            raw += e.polarity;
            pending.push((e.polarity, Pending::Emoticon(&e.tag)));
        }
        // Whether anything moved the score decides "neutral" even when nothing is explained.
        let mut evidence = !pending.is_empty();
        if !explain {
            pending.clear();
        }
        // Heaviest first; equal weights in text order.
        let heaviest = largest_k(
            pending
                .iter()
                .enumerate()
                .map(|(at, p)| (p.0.abs(), at as u32)),
            MAX_TERMS,
        );
        let mut effects: Vec<TermEffect> = heaviest
            .into_iter()
            .map(|at| {
                let (weight, what) = &pending[at as usize];
                let weight = *weight;
                let (term, rule) = match what {
                    Pending::Term(h) => (CompactString::from(h.term), describe(h)),
                    Pending::Pair(a, b) => {
                        let mut pair =
                            CompactString::with_capacity(a.term.len() + 1 + b.term.len());
                        pair.push_str(a.term);
                        pair.push(' ');
                        pair.push_str(b.term);
                        (pair, describe(b))
                    }
                    Pending::Emoticon(tag) => (CompactString::from(*tag), "emoticon".into()),
                };
                TermEffect {
                    term,
                    weight: round3(weight),
                    rule,
                }
            })
            .collect();
        let crisis = self.crisis.assess(&normalised.crisis_text());
        if crisis.risk != Risk::None {
            // Crisis language is negative however politely it is put: a farewell note thanks
            // people. The rule shows in the explanation.
            let floor = -1.5 - (raw + self.learned.bias).max(0.0);
            if let Some(term) = crisis.terms.first() {
                raw += floor;
                evidence = true;
                if explain {
                    effects.push(TermEffect {
                        term: term.as_str().into(),
                        weight: round3(floor),
                        rule: match crisis.screened {
                            Some(p) => format!(
                                "learned crisis screen ({}, p {:.2})",
                                crisis.risk.name(),
                                p
                            ),
                            None => format!("crisis language ({})", crisis.risk.name()),
                        }
                        .into(),
                    });
                }
            }
            for class in [0, 1] {
                emotions[3] += emotions[class];
                emotions[class] = 0.0;
            }
            emotions[3] += 1.0;
        }
        let (polarity, score) = if !evidence {
            (Polarity::Neutral, 0.0)
        } else {
            let score = ((raw + self.learned.bias) / 2.0).tanh();
            let polarity = if score > NEUTRAL_BAND {
                Polarity::Positive
            } else if score < -NEUTRAL_BAND {
                Polarity::Negative
            } else {
                Polarity::Neutral
            };
            (polarity, round3(score))
        };
        effects.sort_by(|a, b| b.weight.abs().total_cmp(&a.weight.abs()));

        let learned = if self.emotion_rows.is_empty() {
            None
        } else {
            // Before crisis language moved joy to sadness, which the learned model does itself.
            let offset = lexicon_offset(&curated_emotions);
            self.emotion_probabilities(hits, &normalised.emoticons, &offset, score)
        };
        let (emotions, emotion) = match learned {
            Some(p) => learned_emotions(p, &emotions, crisis.risk),
            None => lexicon_emotions(emotions),
        };

        let topic_bits = infos.iter().flatten().fold(0u16, |bits, i| bits | i.topics);
        let topics = (0..self.topics.len())
            .filter(|i| topic_bits & (1 << i) != 0)
            .map(|i| self.topics[i])
            .collect();
        Analysis {
            polarity,
            score,
            emotion,
            emotions,
            risk: crisis.risk,
            risk_terms: crisis.terms,
            topics,
            keywords: if explain {
                keywords(tokens, infos, 5, |w| self.idf_of_unlisted(w, UNKNOWN_IDF))
            } else {
                Vec::new()
            },
            terms: effects,
        }
    }
}

/// The `top` words of a text by TF-IDF against the background frequency list; `unlisted_idf`
/// gives the IDF of a word the term table does not hold.
fn keywords(
    tokens: &[&str],
    infos: &[Option<&TermInfo>],
    top: usize,
    unlisted_idf: impl Fn(&str) -> f32,
) -> Vec<CompactString> {
    // Known words as one integer each, table id above position, so that an integer sort
    // groups the repeats of a word in text order; the few unknown words sort by their text.
    let mut known: Vec<u64> = Vec::with_capacity(tokens.len() / 2);
    let mut unknown: Vec<(&str, u32)> = Vec::new();
    for (pos, (&w, info)) in tokens.iter().zip(infos).enumerate() {
        // Fewer than two CJK characters (or four ASCII letters) make no keyword.
        if w.len() < 4 || !is_wordy(w) {
            continue;
        }
        match info {
            Some(i) if i.stop || i.role != Role::Plain => {}
            Some(i) => known.push(u64::from(i.id) << 32 | pos as u64),
            None if is_numeral(w) => {}
            None => unknown.push((w, pos as u32)),
        }
    }
    known.sort_unstable();
    unknown.sort_unstable();
    // (summed IDF, first position) of each distinct word; summed occurrence by occurrence, as
    // the score is defined (n × idf rounds differently and would reorder rare ties).
    let mut scores: Vec<(f32, u32)> = Vec::with_capacity(known.len() + unknown.len());
    for run in known.chunk_by(|a, b| a >> 32 == b >> 32) {
        let first = run[0] as u32;
        let idf = infos[first as usize].map_or(UNKNOWN_IDF, |i| i.idf);
        scores.push((run.iter().fold(0.0, |sum, _| sum + idf), first));
    }
    for run in unknown.chunk_by(|a, b| a.0 == b.0) {
        let idf = unlisted_idf(run[0].0);
        scores.push((run.iter().fold(0.0, |sum, _| sum + idf), run[0].1));
    }
    largest_k(scores.into_iter(), top)
        .into_iter()
        .map(|pos| CompactString::from(tokens[pos as usize]))
        .collect()
}

/// How rare a crisis literal is, for the gate, as an IDF (−ln of the share of documents that
/// hold it). A listed word's is its own. A stop word's is ln 2: the IDF list leaves the
/// commonest words out, and such a word is in about half of all texts. Any other literal is
/// rated as if its characters came independently (the sum of theirs), and no commoner than a
/// listed word it holds (想个地方 than 地方). A character's share is at most the sum of the
/// shares of the listed words that hold it (了 is in hundreds of common words, 捅 in a few rare
/// ones); one that no listed word holds counts as the rarest of words, unless it is a Latin
/// letter or a digit.
struct LiteralRarity<'t> {
    terms: &'t FxHashMap<String, TermInfo>,
    char_share: FxHashMap<char, f64>,
    rarest: f32,
}

impl<'t> LiteralRarity<'t> {
    const STOP_WORD: f32 = std::f32::consts::LN_2;

    fn new(terms: &'t FxHashMap<String, TermInfo>) -> LiteralRarity<'t> {
        let mut char_share: FxHashMap<char, f64> = FxHashMap::default();
        let mut rarest = 0.0f32;
        for (w, info) in terms.iter().filter(|(_, i)| i.idf != UNKNOWN_IDF) {
            rarest = rarest.max(info.idf);
            for c in w.chars() {
                *char_share.entry(c).or_default() += (-f64::from(info.idf)).exp();
            }
        }
        LiteralRarity {
            terms,
            char_share,
            rarest,
        }
    }

    fn listed_idf(&self, word: &str) -> Option<f32> {
        self.terms
            .get(word)
            .map(|i| i.idf)
            .filter(|&idf| idf != UNKNOWN_IDF)
    }

    fn of_char(&self, c: char) -> f32 {
        // A Latin letter or a digit is in no listed word, yet in many texts (links, brands,
        // English): as common as a stop word.
        if c.is_ascii_alphanumeric()
            || self
                .terms
                .get(c.encode_utf8(&mut [0u8; 4]))
                .is_some_and(|i| i.stop)
        {
            return Self::STOP_WORD;
        }
        self.char_share
            .get(&c)
            .map_or(self.rarest, |&share| -(share.min(0.5).ln()) as f32)
    }

    fn of(&self, literal: &[u8]) -> f32 {
        let word = std::str::from_utf8(literal).unwrap_or_default();
        if self.terms.get(word).is_some_and(|i| i.stop) {
            return Self::STOP_WORD;
        }
        if let Some(idf) = self.listed_idf(word) {
            return idf;
        }
        // Every stretch of whole characters, as (start, end) in bytes.
        let bounds: Vec<usize> = word
            .char_indices()
            .map(|(i, _)| i)
            .chain([word.len()])
            .collect();
        let held = bounds
            .iter()
            .flat_map(|&i| bounds.iter().map(move |&j| (i, j)))
            .filter(|&(i, j)| j > i)
            .filter_map(|(i, j)| self.listed_idf(&word[i..j]))
            .fold(0.0, f32::max);
        word.chars().map(|c| self.of_char(c)).sum::<f32>().max(held)
    }
}

/// The pairs of neighbouring candidates that carry a learned weight, in training and in scoring
/// alike, by index: each candidate (not a negator) with the next of its clause past any negator
/// (服务 不太 好 pairs 服务 with 好, whose modifier carries the negation), and with a negator just
/// after it ("现在 还没", a delay). Read only as neighbours, 服务 and 好 were never paired, and
/// "位置 不太" learned +0.97 from hotel reviews that hedge their praise ("总体不错，就是位置不太方便").
fn neighbour_pairs<'h>(hits: &'h [Hit<'_>]) -> impl Iterator<Item = (usize, usize)> + 'h {
    (0..hits.len()).flat_map(move |i| {
        let (negator, turned) = pair_ends(hits, i);
        negator.into_iter().chain(turned).map(move |j| (i, j))
    })
}

/// Where the pairs of candidate `i` end (`neighbour_pairs`): at a negator just after it, and at
/// the next candidate past any negator, each if in its clause. None for a negator.
#[inline(always)]
fn pair_ends(hits: &[Hit<'_>], i: usize) -> (Option<usize>, Option<usize>) {
    let a = &hits[i];
    if a.negator {
        return (None, None);
    }
    let mut j = i + 1;
    let negator = match hits.get(j) {
        Some(h) if h.negator && h.clause == a.clause => Some(j),
        _ => None,
    };
    while hits.get(j).is_some_and(|h| h.negator) {
        j += 1;
    }
    let turned = hits.get(j).filter(|h| h.clause == a.clause).map(|_| j);
    (negator, turned)
}

/// The tags of the `k` largest values, largest first and equal values by smaller tag (values
/// ordered as `f32::total_cmp` orders them). A text gives a few dozen and keeps a handful: as
/// one integer each (the value's order inverted above the tag), they are selected and sorted
/// as integers, which costs a fraction of comparing the pairs.
fn largest_k(items: impl Iterator<Item = (f32, u32)>, k: usize) -> Vec<u32> {
    let mut keys: Vec<u64> = items
        .map(|(value, tag)| {
            // The bits of a float, made to order as `total_cmp` orders the floats.
            let bits = value.to_bits();
            let ordered = if bits >> 31 == 1 {
                !bits
            } else {
                bits | 1 << 31
            };
            u64::from(!ordered) << 32 | u64::from(tag)
        })
        .collect();
    if keys.len() > k {
        if k == 0 {
            return Vec::new();
        }
        keys.select_nth_unstable(k - 1);
        keys.truncate(k);
    }
    keys.sort_unstable();
    keys.into_iter().map(|key| key as u32).collect()
}

fn softmax(z: [f32; 6]) -> [f32; 6] {
    let max = z.iter().cloned().fold(f32::MIN, f32::max);
    let mut e = z.map(|v| (v - max).exp());
    let sum: f32 = e.iter().sum();
    for v in &mut e {
        *v /= sum;
    }
    e
}

/// Seven shares from the curated lexicon's scores, and the dominant emotion when the evidence
/// is strong enough.
fn lexicon_emotions(mut scores: [f32; 7]) -> ([f32; 7], Option<&'static str>) {
    let total: f32 = scores.iter().sum();
    let emotion = (total >= 0.8).then(|| {
        let (best, _) = scores
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .expect("seven classes");
        EMOTIONS[best]
    });
    if total > 0.0 {
        for e in &mut scores {
            *e = round3(*e / total);
        }
    }
    (scores, emotion)
}

/// Seven shares from the learned model's six classes: joy is split between 乐 and 好, and anger
/// between 怒 and 恶, as the curated lexicon's evidence splits them (the labelled data does not
/// tell them apart), and the seven are scaled to sum to 1; "no emotion" decides only whether
/// there is a dominant one. Crisis language is neither joy nor surprise: a threat to others is
/// anger, and a wish to die or to hurt oneself is sadness unless its words name anger or fear
/// (the model, learned on Weibo posts, read "今晚十二点以后我会从阳台跳下去" as anger, later as
/// fear, and "我要杀了他" as surprise).
fn learned_emotions(
    p: [f32; 6],
    lexicon: &[f32; 7],
    risk: Risk,
) -> ([f32; 7], Option<&'static str>) {
    let share = |a: f32, b: f32| if a + b > 0.0 { b / (a + b) } else { 0.0 };
    let like = share(lexicon[0], lexicon[1]);
    let disgust = share(lexicon[2], lexicon[5]);
    let (mut joy, mut anger, mut sad, mut fear, mut surprise) = (p[0], p[1], p[2], p[3], p[4]);
    let crisis = risk != Risk::None;
    if risk == Risk::HarmOthers {
        anger += joy + surprise;
        (joy, surprise) = (0.0, 0.0);
    } else if crisis {
        sad += joy + surprise;
        (joy, surprise) = (0.0, 0.0);
        if lexicon[2] + lexicon[5] == 0.0 {
            sad += anger;
            anger = 0.0;
        }
        if lexicon[4] == 0.0 {
            sad += fear;
            fear = 0.0;
        }
    }
    let seven = [
        joy * (1.0 - like),
        joy * like,
        anger * (1.0 - disgust),
        sad,
        fear,
        anger * disgust,
        surprise,
    ];
    let classes = [joy, anger, sad, fear, surprise];
    let (best, best_p) = classes
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .expect("five classes");
    let emotion = if *best_p <= p[5] && !crisis {
        None
    } else {
        Some(match best {
            0 if like > 0.5 => "好",
            0 => "乐",
            1 if disgust > 0.5 => "恶",
            1 => "怒",
            2 => "哀",
            3 => "惧",
            _ => "惊",
        })
    };
    let total: f32 = seven.iter().sum();
    let shares = if total > 0.0 {
        seven.map(|v| round3(v / total))
    } else {
        seven
    };
    (shares, emotion)
}

/// How far a unit of the curated lexicon's evidence for an emotion moves the learned model's
/// logit of it. Chosen by 5-fold macro-F1 on SMP2020-EWECT's emotions: 0 (the lexicon only
/// splitting 乐/好 and 怒/恶) 0.514, 0.5 0.520, 1 0.521, 2 0.525, 3 0.529, 4 0.529, 6 0.527.
const LEXICON_PRIOR: f32 = 3.0;

/// The curated lexicon's seven scores as an offset to the learned model's six logits: 乐 and 好
/// are its joy, 怒 and 恶 its anger.
fn lexicon_offset(curated: &[f32; 7]) -> [f32; 6] {
    let k = LEXICON_PRIOR;
    [
        k * (curated[0] + curated[1]),
        k * (curated[2] + curated[5]),
        k * curated[3],
        k * curated[4],
        k * curated[6],
        0.0,
    ]
}

/// A text with redaction placeholders (〔…〕) blanked out.
fn strip_placeholders(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('〔') {
        out.push_str(&rest[..start]);
        match rest[start..].find('〕') {
            Some(end) => {
                out.push(' ');
                rest = &rest[start + end + '〕'.len_utf8()..];
            }
            None => {
                rest = &rest[start..];
                break;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Whether a token has a letter or ideograph in it; CJK is tested by range first, since
/// `char::is_alphabetic` takes a slow path for it.
#[inline(always)]
fn is_wordy(w: &str) -> bool {
    // Lead bytes E4–E9 begin U+4000–U+9FFF, inside the ideograph range below: most tokens,
    // decided in line; the rest out of line, so that the callers' loops stay small.
    matches!(w.as_bytes().first(), Some(0xE4..=0xE9)) || has_letter(w)
}

#[inline(never)]
fn has_letter(w: &str) -> bool {
    w.chars().any(|c| {
        c.is_ascii_alphabetic()
            || matches!(c as u32, 0x3400..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2FFFF)
            // Punctuation blocks hold no letter, and skip the slow Unicode table.
            || (!c.is_ascii() && !is_punctuation_block(c) && c.is_alphabetic())
    })
}

/// A term's part in a score before its explanation is written.
enum Pending<'h, 't> {
    Term(&'h Hit<'t>),
    Pair(&'h Hit<'t>, &'h Hit<'t>),
    Emoticon(&'h str),
}

fn describe(h: &Hit<'_>) -> std::borrow::Cow<'static, str> {
    // Without an intensifier the rules make one of 18 fixed strings: no allocation for the
    // terms of every text.
    let intensified = (h.degree - 1.0).abs() > f32::EPSILON;
    if !intensified && !h.overcome && !h.forbidden && h.plain.is_none() {
        #[rustfmt::skip]
        const FIXED: [&str; 18] = [
            "", "question", "exclamation",
            "earlier clause", "earlier clause, question", "earlier clause, exclamation",
            "later clause", "later clause, question", "later clause, exclamation",
            "negated", "negated, question", "negated, exclamation",
            "negated, earlier clause", "negated, earlier clause, question",
            "negated, earlier clause, exclamation",
            "negated, later clause", "negated, later clause, question",
            "negated, later clause, exclamation",
        ];
        let index = usize::from(h.negated) * 9
            + usize::from(h.clause_rule) * 3
            + usize::from(h.sentence_rule);
        return FIXED[index].into();
    }
    let mut rules = String::with_capacity(64);
    if h.overcome {
        rules.push_str("overcome");
    } else if h.forbidden {
        rules.push_str("forbidden");
    } else if h.negated {
        rules.push_str("negated");
    }
    if intensified {
        if !rules.is_empty() {
            rules.push_str(", ");
        }
        rules.push_str("intensified ×");
        push_round3(&mut rules, h.degree);
    }
    let sentence_rule = match h.plain {
        Some(inquiry::Plain::Inquiry) => "inquiry",
        // A notice ends in no exclamation mark, but may in a question mark.
        Some(inquiry::Plain::Notice) if h.sentence_rule == 0 => "notice",
        Some(inquiry::Plain::Notice) => "notice, question",
        Some(inquiry::Plain::Request) if h.sentence_rule == 0 => "request",
        Some(inquiry::Plain::Request) => "request, question",
        None => SENTENCE_RULES[usize::from(h.sentence_rule)],
    };
    for part in [CLAUSE_RULES[usize::from(h.clause_rule)], sentence_rule] {
        if !part.is_empty() {
            if !rules.is_empty() {
                rules.push_str(", ");
            }
            rules.push_str(part);
        }
    }
    rules.into()
}

/// Whether a token can be in the term table: punctuation, symbols and spaces, one character
/// each, never are (a test checks the shipped dictionaries), so they skip the look-up.
#[inline(always)]
fn may_be_term(w: &str) -> bool {
    // Most tokens are decided by their length and first byte, in line: more than four bytes
    // hold two characters or more, and a lone character starting E4–E9 is an ideograph (or one
    // of the 64 hexagram symbols, which the look-up then does not find).
    match w.as_bytes() {
        [] => false,
        [_, _, _, _, _, ..] => true,
        [0xE4..=0xE9, _, _] => true,
        _ => short_may_be_term(w),
    }
}

#[inline(never)]
fn short_may_be_term(w: &str) -> bool {
    let mut chars = w.chars();
    match (chars.next(), chars.next()) {
        (None, _) => false,
        (Some(c), None) => {
            matches!(c as u32, 0x4E00..=0x9FFF)
                || c.is_ascii_alphanumeric()
                || (!c.is_ascii() && !is_punctuation_block(c) && c.is_alphanumeric())
        }
        _ => true,
    }
}

/// Whether `c` lies in a block of punctuation that holds no letter or digit (CJK and general
/// punctuation, fullwidth punctuation): the commonest lone tokens, told apart without the slow
/// Unicode tables.
fn is_punctuation_block(c: char) -> bool {
    matches!(
        c as u32,
        0x2010..=0x2027 | 0x2030..=0x205E | 0x3000..=0x3004 | 0x3008..=0x3020 | 0xFF01..=0xFF0F | 0xFF1A..=0xFF20
    )
}

/// Whether a token is a number and nothing else (两百多, 十二万, 2020): it says how many, not how it
/// went. Learned from reviews and posts, such numbers took the sentiment of what was counted there
/// (两百多 −0.65), and "热线今天接了两百多个电话" read as a complaint.
fn is_numeral(w: &str) -> bool {
    let digits = w.trim_end_matches(['多', '余']);
    w.chars().count() >= 2
        && !digits.is_empty()
        && digits
            .chars()
            .all(|c| c.is_ascii_digit() || "零〇一二三四五六七八九十百千万亿两几半".contains(c))
}

/// Whether a token after 好 counts times or time (几次, 多天, 半天, 一阵子), so that 好 means
/// "quite" there.
fn counts_times(next: &str) -> bool {
    let mut chars = next.chars();
    match (chars.next(), chars.next()) {
        (Some('几' | '半'), _) => true,
        (Some('多'), Some(c)) => c != '了',
        (Some('一'), Some('阵' | '会' | '段')) => true,
        _ => false,
    }
}

/// Whether a token is empty or only whitespace; an ideograph's lead byte answers at once.
#[inline(always)]
fn is_blank(w: &str) -> bool {
    match w.as_bytes().first() {
        None => true,
        Some(0xE4..=0xE9) => false,
        Some(_) => w.trim().is_empty(),
    }
}

#[inline(always)]
fn is_clause_break(w: &str) -> bool {
    // Every break is one ASCII byte or starts with E2 (…), E3 (。) or EF (fullwidth forms):
    // ideographs (E4–E9) and longer words are ruled out by their first byte and length, in
    // line.
    match w.as_bytes() {
        [b] => matches!(b, b',' | b'.' | b'!' | b'?' | b';' | b'~' | b'\n' | b':'),
        [0xE2 | 0xE3 | 0xEF, ..] if w.len() <= 6 => is_marked_break(w),
        _ => false,
    }
}

#[inline(never)]
fn is_marked_break(w: &str) -> bool {
    matches!(
        w,
        "，" | "。"
            | "！"
            | "？"
            | "；"
            | ","
            | "."
            | "!"
            | "?"
            | ";"
            | "…"
            | "……"
            | "~"
            | "～"
            | "\n"
            | "："
            | ":"
    )
}

fn round3(x: f32) -> f32 {
    (x * 1000.0).round() / 1000.0
}

/// `round3(x)` as `{}` prints it (`1.5`, `2`, `0.333`), from its count of thousandths
/// (`thousandths`). Formatting through `core::fmt` took most of the time of explaining an
/// intensified term. A test checks every value up to ±100 against `core::fmt`, which still
/// prints the rest.
fn push_round3(out: &mut String, x: f32) {
    use std::fmt::Write;
    let r = round3(x);
    let milli = (f64::from(r) * 1000.0).round();
    if milli.is_nan() || milli.abs() >= 100_000.0 || (r == 0.0 && r.is_sign_negative()) {
        let _ = write!(out, "{r}");
        return;
    }
    if milli < 0.0 {
        out.push('-');
    }
    let mut buf = [0; THOUSANDTHS_LEN];
    let digits = thousandths(milli.abs() as u64, 0, &mut buf);
    out.push_str(std::str::from_utf8(digits).expect("ASCII digits"));
}

/// The longest `thousandths` writes: twenty digits, a point and three.
pub(crate) const THOUSANDTHS_LEN: usize = 24;

/// The shortest decimal of `milli` thousandths, with at least `min_fraction` (0 or 1) digits
/// after the point: 1500 → `1.5`, 2000 → `2` (or `2.0`). `milli / 1000.0` is the float nearest
/// that decimal, so this is the shortest form `{}` and serde_json print for it, without their
/// general algorithm. Shared by the explanations and the JSON lines of `score`.
pub(crate) fn thousandths(
    milli: u64,
    min_fraction: usize,
    buf: &mut [u8; THOUSANDTHS_LEN],
) -> &[u8] {
    // The whole part's digits, last first.
    let mut whole = milli / 1000;
    let mut reversed = [0u8; 20];
    let mut n = 0;
    loop {
        reversed[n] = b'0' + (whole % 10) as u8;
        n += 1;
        whole /= 10;
        if whole == 0 {
            break;
        }
    }
    for (slot, &d) in buf.iter_mut().zip(reversed[..n].iter().rev()) {
        *slot = d;
    }
    let frac = milli % 1000;
    let frac = [frac / 100, frac / 10 % 10, frac % 10].map(|d| b'0' + d as u8);
    let keep = frac
        .iter()
        .rposition(|&d| d != b'0')
        .map_or(min_fraction, |i| i + 1);
    if keep == 0 {
        return &buf[..n];
    }
    buf[n] = b'.';
    buf[n + 1..n + 1 + keep].copy_from_slice(&frac[..keep]);
    &buf[..n + 1 + keep]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::LazyLock;

    static ENGINE: LazyLock<Engine> = LazyLock::new(|| Engine::embedded().unwrap());

    /// The gate rates stop words and their characters commonest, a literal no commoner than
    /// a listed word it holds, and so gates a threat on its verbs, not on its pronouns.
    #[test]
    fn gate_literals_are_rated_by_how_common_they_are() {
        let rarity = LiteralRarity::new(&ENGINE.terms);
        let of = |w: &str| rarity.of(w.as_bytes());
        assert!(of("我") < of("捅") && of("他") < of("杀"));
        assert!(of("我是") < of("累赘"));
        assert!(of("想个地方") >= of("地方") && of("想个地方") > of("个"));
        assert!(of("了") < of("吃") && of("吃") < of("吃了"));
        assert!(of("s") < of("死") && of("s") < of("killmyself"));
        let gate = crisis::necessary_literals(
            "(威胁|扬言|声称|说)[^。！？，]{0,4}(要|会)(捅|砍|杀|弄死)(他|她|你|我)",
            &|l| rarity.of(l),
        )
        .unwrap();
        for literal in gate.iter().map(|l| String::from_utf8_lossy(l)) {
            assert!(
                ["捅", "砍", "杀", "弄死"]
                    .iter()
                    .any(|v| literal.contains(v)),
                "{literal}"
            );
        }
    }

    /// `largest_k` keeps what a sort by value (largest first, then by tag) and a cut would
    /// keep, with values repeating as real weights do, negative ones, zeros of both signs and
    /// infinities among them.
    #[test]
    fn thousandths_print_as_the_float_does() {
        for m in -100_000..=100_000 {
            let x = m as f32 / 1000.0;
            let mut fast = String::new();
            push_round3(&mut fast, x);
            assert_eq!(fast, format!("{}", round3(x)), "{m}");
        }
        for x in [
            -0.0f32,
            1e9,
            -123_456.78,
            f32::NAN,
            f32::INFINITY,
            0.0004,
            -0.0004,
            1.2345,
        ] {
            let mut fast = String::new();
            push_round3(&mut fast, x);
            assert_eq!(fast, format!("{}", round3(x)), "{x}");
        }
    }

    #[test]
    fn largest_k_is_a_sort_then_a_cut() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let odd = [0.0, -0.0, f32::INFINITY, f32::NEG_INFINITY, 1e-30, -1e-30];
        let order = |a: &(f32, u32), b: &(f32, u32)| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1));
        for round in 0..2000 {
            let n = rng.random_range(0..60);
            let items: Vec<(f32, u32)> = (0..n)
                .map(|i| {
                    let value = if rng.random_range(0..8) == 0 {
                        odd[rng.random_range(0..odd.len())]
                    } else {
                        rng.random_range(-4..4) as f32 * 0.5
                    };
                    (value, rng.random_range(0..1000) * 64 + i)
                })
                .collect();
            let k = round % 14;
            let mut sorted = items.clone();
            sorted.sort_by(order);
            let expected: Vec<u32> = sorted.iter().take(k).map(|p| p.1).collect();
            assert_eq!(largest_k(items.into_iter(), k), expected);
        }
    }

    #[test]
    fn a_number_weighs_nothing_and_a_word_with_a_digit_in_it_still_may() {
        for w in ["两百多", "十二万", "2020", "一千二百余", "万一", "一半"] {
            assert!(is_numeral(w), "{w}");
        }
        for w in [
            "一",
            "多",
            "多多",
            "一点",
            "十分",
            "两个",
            "三天",
            "一一对应",
            "余",
        ] {
            assert!(!is_numeral(w), "{w}");
        }
        let a = ENGINE.analyze("热线今天接了两百多个电话，大部分是咨询出行政策的");
        assert!(
            !a.terms.iter().any(|t| t.term.contains("两百多")),
            "{:?}",
            a.terms
        );
        assert!(
            !a.keywords.iter().any(|k| k == "两百多"),
            "{:?}",
            a.keywords
        );
        assert!(a.keywords.iter().any(|k| k == "热线"), "{:?}", a.keywords);
    }

    #[test]
    fn a_word_in_no_dictionary_is_read_by_its_characters_and_is_no_keyword() {
        // 小霞, a name, is in no dictionary (jieba's HMM had joined it into a word).
        let text = "这个酒店的服务员小霞态度超赞";
        let tokens = ENGINE.segment(text);
        assert!(tokens.iter().any(|t| t == "小") && tokens.iter().any(|t| t == "霞"));
        let (features, _) = ENGINE.features(text);
        let terms: Vec<&str> = features.iter().map(|(t, _)| t.as_str()).collect();
        assert!(!terms.iter().any(|t| t.contains("小霞")), "{terms:?}");
        assert!(
            terms.contains(&"服务员") && terms.contains(&"态度"),
            "{terms:?}"
        );
        let keywords = ENGINE.analyze(text).keywords;
        assert!(!keywords.iter().any(|k| k.contains('霞')), "{keywords:?}");
        assert!(keywords.iter().any(|k| k == "服务员"), "{keywords:?}");
        // Words of the domain dictionary that jieba's own lacks come out whole.
        for word in [
            "微博",
            "微信",
            "号源",
            "菜价",
            "飞沫",
            "奥密克戎",
            "健康宝",
            "抢菜",
        ] {
            assert_eq!(ENGINE.segment(word), [word]);
        }
    }

    /// 死 after a lexicon word intensifies it (开心死了 is very happy, not sad or angry); after
    /// any other word it is a word of its own.
    #[test]
    fn a_degree_complement_intensifies_the_lexicon_word_before_it() {
        for (text, polarity, host, times) in [
            ("开心死了", Some(Polarity::Positive), "开心", "×1.5"),
            (
                "看到你们平安回家，高兴坏了",
                Some(Polarity::Positive),
                "高兴",
                "×1.3",
            ),
            ("今天开心极了", Some(Polarity::Positive), "开心", "×1.8"),
            ("伤心死了", Some(Polarity::Negative), "伤心", "×1.5"),
            // Its polarity is learned: SMP2020's annotators read many a 笑死 as scorn.
            ("笑死我了", None, "笑", "×1.5"),
        ] {
            let a = ENGINE.analyze(text);
            if let Some(p) = polarity {
                assert_eq!(a.polarity, p, "{text}: {:?}", a.terms);
            }
            assert!(
                a.terms
                    .iter()
                    .any(|t| t.term == host && t.rule.contains(times)),
                "{text}: {:?}",
                a.terms
            );
            assert!(
                !a.terms.iter().any(|t| t.term == "死"),
                "{text}: {:?}",
                a.terms
            );
        }
        for text in ["病人死了", "他死了", "开心的人，死了"] {
            let a = ENGINE.analyze(text);
            assert!(
                a.terms.iter().any(|t| t.term == "死"),
                "{text}: {:?}",
                a.terms
            );
            assert_eq!(a.polarity, Polarity::Negative, "{text}: {:?}", a.terms);
        }
    }

    #[test]
    fn rules_show_in_the_explanation() {
        let a = ENGINE.analyze("服务不太满意");
        assert_eq!(a.polarity, Polarity::Negative);
        let t = a.terms.iter().find(|t| t.term == "满意").unwrap();
        assert!(
            t.rule.contains("negated") && t.weight < 0.0,
            "{:?}",
            a.terms
        );
        let a = ENGINE.analyze("前台态度非常差");
        assert_eq!(a.polarity, Polarity::Negative);
        assert!(a
            .terms
            .iter()
            .any(|t| t.term == "差" && t.rule.contains("intensified ×1.8")));
        let a = ENGINE.analyze("房间有点旧，但是服务非常好");
        assert_eq!(a.polarity, Polarity::Positive, "{:?}", a.terms);
        assert!(a.terms.iter().any(|t| t.rule.contains("later clause")));
    }

    #[test]
    fn a_hardship_got_through_is_behind_the_speaker() {
        let overcome = |text: &str, word: &str| {
            let a = ENGINE.analyze(text);
            let t = a.terms.iter().find(|t| t.term == word);
            (
                a.polarity,
                t.map(|t| (t.rule.contains("overcome"), t.weight > 0.0)),
            )
        };
        // Got through: the hardship weighs for the text, and says so.
        for (text, word) in [
            ("心理援助热线帮我度过了最难熬的那几天，谢谢", "难熬"),
            ("孩子慢慢走出了焦虑，现在睡得好多了", "焦虑"),
            ("经过咨询，我克服了对疫情的恐惧", "恐惧"),
            ("我们一起挺过了这段困难时期", "困难"),
            // Relieved after it is named, as hotline notes put it (session 31).
            ("来电者经放松训练后焦虑缓解，表示愿意继续尝试", "焦虑"),
            ("复访时失眠症状明显改善", "失眠"),
        ] {
            assert_eq!(
                overcome(text, word),
                (Polarity::Positive, Some((true, true))),
                "{text}"
            );
        }
        // Not got through (denied), or not the hardship the verb gets through (out of reach).
        for (text, word) in [
            ("我没能走出失去妈妈的悲伤", "悲伤"),
            ("吃了药也无法缓解焦虑", "焦虑"),
            ("走出小区发现垃圾堆了好几天没人管", "没人管"),
            ("焦虑一直没有缓解", "焦虑"),
            ("压力减轻不了", "压力"),
        ] {
            assert_eq!(
                overcome(text, word),
                (Polarity::Negative, Some((false, false))),
                "{text}"
            );
        }
        // The emotion of a hardship got through is not what the text feels.
        let a = ENGINE.analyze("终于摆脱了恐惧");
        assert_ne!(a.emotion, Some("惧"), "{:?}", a.emotions);
        assert_eq!(ENGINE.analyze("我很恐惧").emotion, Some("惧"));
    }

    #[test]
    fn emotions_and_topics() {
        let a = ENGINE.analyze("隔离第十天，核酸结果还没出来，真的很害怕[泪]");
        assert_eq!(a.emotion, Some("惧"));
        assert!(a.topics.contains(&"testing") && a.topics.contains(&"quarantine"));
        assert!((a.emotions.iter().sum::<f32>() - 1.0).abs() < 0.01);
        let a = ENGINE.analyze("感谢医护人员，你们辛苦了！");
        assert_eq!(a.polarity, Polarity::Positive);
        assert_eq!(a.emotion, Some("好"));
    }

    #[test]
    fn crisis_language_is_sadness_or_a_threat_anger() {
        for (text, risk, emotion) in [
            (
                "今晚十二点以后我会从阳台跳下去，提前跟大家说声再见。",
                Risk::Imminent,
                "哀",
            ),
            (
                "安眠药我已经攒够了，今晚等家里人睡了就吃",
                Risk::Imminent,
                "哀",
            ),
            ("我活不了了", Risk::Ideation, "哀"),
            ("我要杀了他", Risk::HarmOthers, "怒"),
        ] {
            let a = ENGINE.analyze(text);
            assert_eq!((a.risk, a.emotion), (risk, Some(emotion)), "{text}");
            assert_eq!(a.emotions[0] + a.emotions[1] + a.emotions[6], 0.0, "{text}");
        }
        // Fear the words name is kept beside the sadness.
        let a = ENGINE.analyze("我好害怕，我不想活了");
        assert_eq!(a.risk, Risk::Ideation);
        assert!(a.emotions[4] > 0.1, "{:?}", a.emotions);
    }

    #[test]
    fn neutral_without_evidence() {
        let a = ENGINE.analyze("");
        assert_eq!((a.polarity, a.emotion), (Polarity::Neutral, None));
        let a = ENGINE.analyze("😀😀😀");
        assert_eq!(a.polarity, Polarity::Positive);
    }

    #[test]
    fn traditional_text_is_read() {
        let a = ENGINE.analyze("謝謝醫護人員，我們很感動");
        assert_eq!(a.polarity, Polarity::Positive);
    }
}

#[cfg(test)]
mod token_class_tests {
    use super::*;

    #[test]
    fn clause_breaks_and_blanks_by_their_first_byte() {
        for b in [
            "，", "。", "！", "？", "；", ",", ".", "!", "?", ";", "…", "……", "~", "～", "\n",
            "：", ":",
        ] {
            assert!(is_clause_break(b), "{b:?}");
        }
        for w in ["好", "、", "（", "a", "!!", "。。", "", "…a", "\r\n", "ab"] {
            assert!(!is_clause_break(w), "{w:?}");
        }
        for w in ["", " ", "\t", "\u{3000}", "\u{a0}"] {
            assert!(is_blank(w), "{w:?}");
        }
        for w in ["好", "a", "，", "😭"] {
            assert!(!is_blank(w), "{w:?}");
        }
    }

    #[test]
    fn punctuation_blocks_hold_no_letter_or_digit() {
        let all = (0..=0x10FFFFu32).filter_map(char::from_u32);
        let inside: Vec<char> = all.filter(|&c| is_punctuation_block(c)).collect();
        assert!(inside.contains(&'，') && inside.contains(&'。') && inside.contains(&'…'));
        assert!(inside.iter().all(|c| !c.is_alphanumeric()), "{inside:?}");
    }

    #[test]
    fn every_curated_word_comes_out_of_the_cut_whole() {
        // Thirty-one had not ("没人理", "靠谱", "无语", "给力"), and weighed nothing.
        let engine = Engine::embedded().unwrap();
        let apart = engine.curated_cut_apart();
        assert!(apart.is_empty(), "{apart:?}");
        // Joined only as often as it takes: the word around them still wins.
        let cut = |t: &str| -> Vec<String> {
            engine
                .jieba
                .cut(t, true)
                .iter()
                .map(|s| s.word.to_string())
                .collect()
        };
        assert_eq!(cut("我的天空"), ["我", "的", "天空"]);
        assert_eq!(cut("留言了也没人理"), ["留言", "了", "也", "没人理"]);
    }

    #[test]
    fn every_attribute_and_quality_word_comes_out_of_the_cut_whole() {
        let engine = Engine::embedded().unwrap();
        assert!(engine.collocations.len() > 50);
        for (a, b, _) in &engine.collocations {
            for w in [a, b] {
                assert_eq!(engine.segment(w), [w.as_str()], "collocations.tsv: {w}");
            }
        }
    }

    #[test]
    fn every_emotion_word_has_the_polarity_of_its_emotion() {
        // "我很失落" was neutral: 失落 had an emotion (哀) and no polarity.
        let engine = Engine::embedded().unwrap();
        let wrong: Vec<(&String, f32, &str)> = engine
            .terms
            .iter()
            .filter_map(|(w, i)| {
                let (class, _) = i.emotion?;
                let sign = match EMOTIONS[class as usize] {
                    "惊" => return None,
                    "乐" | "好" => 1.0,
                    _ => -1.0,
                };
                (i.curated * sign <= 0.0).then_some((w, i.curated, EMOTIONS[class as usize]))
            })
            .collect();
        assert!(wrong.is_empty(), "{wrong:?}");
        assert_eq!(engine.analyze("我很失落").polarity, Polarity::Negative);
        assert_eq!(engine.analyze("感觉很孤单").polarity, Polarity::Negative);
    }

    #[test]
    fn a_word_said_twice_over_reads_as_the_word() {
        let engine = Engine::embedded().unwrap();
        let a = engine.analyze("物业把楼道打扫得干干净净");
        assert!(
            a.terms
                .iter()
                .any(|t| t.term == "干干净净" && t.weight > 0.0),
            "{:?}",
            a.terms
        );
        assert_eq!(a.polarity, Polarity::Positive);
        // Not in jieba's dictionary: the segmenter gets it with its word.
        let b = engine.analyze("大家都开开心心的");
        assert!(
            b.terms.iter().any(|t| t.term == "开开心心"),
            "{:?}",
            b.terms
        );
    }

    #[test]
    fn the_segmenter_keeps_every_curated_word_jieba_holds() {
        // The segmenter's own file, at jieba's frequencies: the engine would join a word it
        // lacks (at the least frequency that does), so its jieba is not the measure.
        let engine = Engine::embedded().unwrap();
        let full = Jieba::new();
        let pruned = segmenter::segmenter(&Dictionaries::embedded().segmenter).unwrap();
        let lost: Vec<&str> = engine
            .curated_words()
            .filter(|w| full.has_word(w) && !pruned.has_word(w))
            .collect();
        assert!(
            lost.is_empty(),
            "cut apart now; run the command in segmenter.txt's header again: {lost:?}"
        );
        // Rare words of jieba's are gone, and frequent ones kept.
        assert!(full.has_word("批下来") && !engine.jieba.has_word("批下来"));
        assert!(engine.jieba.has_word("心理") && engine.jieba.has_word("方舱"));
    }

    #[test]
    fn every_shipped_term_is_looked_up() {
        let engine = Engine::embedded().unwrap();
        let skipped: Vec<&String> = engine.terms.keys().filter(|w| !may_be_term(w)).collect();
        assert!(
            skipped.is_empty(),
            "terms the look-up would skip: {skipped:?}"
        );
        assert!(may_be_term("12345") && may_be_term("Ａ") && !may_be_term("，"));
    }
}
