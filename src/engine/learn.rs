//! Learning polarity weights from labelled text, and k-fold evaluation.
//!
//! The model is a logistic regression whose features are exactly the engine's sentiment
//! candidates with the multipliers its rules give them (negation, degree, clauses), and whose
//! curated weights and emoticons are a fixed offset. So a learned weight means what a curated one
//! means, and the explanation of a score stays a list of terms and rules. The weights are written
//! as a readable file (`dictionaries/polarity_learned.tsv`); no training text is kept.

use super::{Engine, Learned};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rustc_hash::FxHashMap;

/// A labelled text for polarity.
#[derive(Debug, Clone)]
pub struct Example {
    pub text: String,
    pub positive: bool,
}

#[derive(Debug, Clone)]
pub struct TrainOptions {
    pub epochs: usize,
    pub learning_rate: f32,
    pub l2: f32,
    /// A term must occur in this many training texts to get a weight.
    pub min_docs: usize,
    pub seed: u64,
    /// The L2 penalty of a word that says what a text is about rather than how it judges it: a
    /// noun, numeral, time, place or measure word by jieba's part-of-speech tags (`TOPICAL_TAGS`).
    /// Learned from hotel reviews and Weibo posts, such words took the sentiment of what was said
    /// about them there (领导 -0.94, 工作人员 +0.74, 半天 +0.73), and misread public feedback.
    /// 3e-2 rather than 1e-2 (session 32): the feedback probes read 4 more lines of 460 and
    /// 5-fold macro-F1 fell 0.1 points on each shared file; 1e-1 read no more feedback lines
    /// and cost 0.4.
    pub topical_l2: f32,
    /// Weights are the mean of this many runs, each in its own order (seeds `seed`, `seed` + 1
    /// …): one run's weights depend on the order it met the texts in, and the feedback probes
    /// moved by up to four lines of forty from one seed to the next.
    pub runs: usize,
}

impl Default for TrainOptions {
    fn default() -> Self {
        // Chosen by 5-fold macro-F1 on the shared data sets (see the issue notes).
        TrainOptions {
            epochs: 25,
            learning_rate: 0.1,
            l2: 1e-5,
            min_docs: 2,
            seed: 7,
            topical_l2: 3e-2,
            runs: 8,
        }
    }
}

#[derive(Clone)]
struct Doc {
    features: Vec<(usize, f32)>,
    offset: f32,
    positive: bool,
}

/// `f` over many items on both cores, in order.
fn on_both_cores<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let half = items.len().div_ceil(2).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(half)
            .map(|chunk| {
                let f = &f;
                scope.spawn(move || chunk.iter().map(f).collect::<Vec<_>>())
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("featurising thread"))
            .collect()
    })
}

/// The mean of `opts.runs` runs of `run` (seeds `opts.seed`, `opts.seed` + 1 …), half of them on
/// each core: its weights (one `W` per feature) and its bias.
fn mean_of_runs<W, const B: usize>(
    opts: &TrainOptions,
    run: impl Fn(u64) -> (Vec<W>, [f32; B]) + Sync,
) -> (Vec<W>, [f32; B])
where
    W: Weights + Send,
{
    let seeds: Vec<u64> = (0..opts.runs.max(1) as u64)
        .map(|i| opts.seed + i)
        .collect();
    let runs = on_both_cores(&seeds, |&seed| run(seed));
    let n = runs.len() as f32;
    let mut runs = runs.into_iter();
    let (mut weights, mut bias) = runs.next().expect("at least one run");
    for (w, b) in runs {
        for (sum, x) in weights.iter_mut().zip(&w) {
            sum.add(x);
        }
        for (sum, x) in bias.iter_mut().zip(b) {
            *sum += x;
        }
    }
    for w in &mut weights {
        w.scale(1.0 / n);
    }
    (weights, bias.map(|b| b / n))
}

/// A feature's weight (polarity) or weights (one per emotion class), summed over runs.
trait Weights {
    fn add(&mut self, other: &Self);
    fn scale(&mut self, by: f32);
}

impl Weights for f32 {
    fn add(&mut self, other: &f32) {
        *self += other;
    }
    fn scale(&mut self, by: f32) {
        *self *= by;
    }
}

impl<const K: usize> Weights for [f32; K] {
    fn add(&mut self, other: &[f32; K]) {
        for (a, b) in self.iter_mut().zip(other) {
            *a += b;
        }
    }
    fn scale(&mut self, by: f32) {
        for a in self {
            *a *= by;
        }
    }
}

/// jieba's part-of-speech tags of topical words (`TrainOptions::topical_l2`): nouns (n, nr, nrt,
/// nrfg, ns, nt, nz, ng), numerals (m, mq), time words (t, tg), measure words (q), places (s) and
/// directions (f). A verbal noun (vn: 服务) or an adjectival one (an) judges, and is not among them.
const TOPICAL_TAGS: [&str; 15] = [
    "n", "nr", "nrt", "nrfg", "ns", "nt", "nz", "ng", "m", "mq", "t", "tg", "q", "s", "f",
];

/// Each feature's L2 penalty: `topical_l2` for a single word jieba's dictionary tags as topical,
/// `l2` for any other word and for pairs. Pairs of two topical words penalised so too ("今天 上午"
/// had learned +0.63 from hotel guests' arrivals) read 2 more feedback lines, but cost 0.16 points
/// of 5-fold macro-F1 on the hotel reviews and read 3 more thanks as distress.
fn penalties(vocabulary: &[&str], opts: &TrainOptions) -> Vec<f32> {
    if opts.topical_l2 == opts.l2 {
        return vec![opts.l2; vocabulary.len()];
    }
    // jieba's own dictionary holds the tags (the engine's segmenter drops them).
    let tagger = jieba_rs::Jieba::new();
    vocabulary
        .iter()
        .map(|term| {
            let tags = tagger.tag(term, false);
            let topical = !term.contains(' ')
                && matches!(tags.as_slice(), [t] if TOPICAL_TAGS.contains(&t.tag));
            if topical {
                opts.topical_l2
            } else {
                opts.l2
            }
        })
        .collect()
}

/// The features seen in at least `min_docs` documents, sorted, with their ids.
fn vocabulary<'a>(
    docs: impl Iterator<Item = &'a [(String, f32)]>,
    min_docs: usize,
) -> (Vec<&'a str>, FxHashMap<&'a str, usize>) {
    let mut doc_freq: FxHashMap<&str, usize> = FxHashMap::default();
    for features in docs {
        let mut seen: Vec<&str> = features.iter().map(|(t, _)| t.as_str()).collect();
        seen.sort_unstable();
        seen.dedup();
        for t in seen {
            *doc_freq.entry(t).or_default() += 1;
        }
    }
    let mut vocabulary: Vec<&str> = doc_freq
        .iter()
        .filter(|(_, &n)| n >= min_docs)
        .map(|(t, _)| *t)
        .collect();
    vocabulary.sort_unstable();
    let ids = vocabulary
        .iter()
        .enumerate()
        .map(|(i, t)| (*t, i))
        .collect();
    (vocabulary, ids)
}

/// A document's features by id, repeats summed, unknown ones dropped.
fn by_id(features: &[(String, f32)], ids: &FxHashMap<&str, usize>) -> Vec<(usize, f32)> {
    let mut merged: FxHashMap<usize, f32> = FxHashMap::default();
    for (t, x) in features {
        if let Some(&id) = ids.get(t.as_str()) {
            *merged.entry(id).or_default() += x;
        }
    }
    let mut out: Vec<(usize, f32)> = merged.into_iter().collect();
    out.sort_unstable_by_key(|(id, _)| *id);
    out
}

pub fn train(engine: &Engine, examples: &[Example], opts: &TrainOptions) -> Learned {
    let featurised = on_both_cores(examples, |e| engine.features(&e.text));
    let (vocabulary, ids) = vocabulary(featurised.iter().map(|(f, _)| f.as_slice()), opts.min_docs);
    let l2 = penalties(&vocabulary, opts);
    // A negator's own weight, alone or after the word before it, says what it says with nothing
    // to turn ("还没送到" complains, "现在 还没" more so), and that is never praise. Left free,
    // they learned what hotel reviews hedge their praise with ("总体不错，就是位置不太方便": 不太
    // +0.53, "位置 不太" +0.97), and "服务不太好" and "位置不太方便" read as praise.
    let is_negator = |t: &str| {
        engine
            .info(t)
            .is_some_and(|i| i.role == super::Role::Negator)
    };
    // A curated word's learned weight may temper it by half at most, never turn it. Left free,
    // the words hotel guests hedge their praise with learned against their curated sense
    // (遗憾 +1.49 on −1.2 of "唯一遗憾的是…", 压抑 +1.02 on −1.5), and a hotline note's "心情压抑"
    // read as nothing.
    let bounds: Vec<(f32, f32)> = vocabulary
        .iter()
        .map(|t| {
            let upper = if is_negator(t.rsplit(' ').next().unwrap_or(t)) {
                0.0
            } else {
                f32::INFINITY
            };
            match engine.info(t).map(|i| i.curated) {
                Some(c) if !t.contains(' ') && c > 0.0 => (-c / 2.0, upper),
                Some(c) if !t.contains(' ') && c < 0.0 => (f32::NEG_INFINITY, upper.min(-c / 2.0)),
                _ => (f32::NEG_INFINITY, upper),
            }
        })
        .collect();
    let docs: Vec<Doc> = featurised
        .iter()
        .zip(examples)
        .map(|((features, offset), e)| Doc {
            features: by_id(features, &ids),
            offset: *offset,
            positive: e.positive,
        })
        .collect();

    // Classes weighted to balance, since macro-F1 is the measure.
    let positives = docs.iter().filter(|d| d.positive).count().max(1) as f32;
    let negatives = (docs.len() as f32 - positives).max(1.0);
    let class_weight =
        |positive: bool| docs.len() as f32 / (2.0 * if positive { positives } else { negatives });
    let (w_pos, w_neg) = (class_weight(true), class_weight(false));

    let (weights, bias) = mean_of_runs(opts, |seed| {
        let mut docs = docs.clone();
        let mut weights = vec![0.0f32; vocabulary.len()];
        let mut squared = vec![1e-6f32; vocabulary.len()];
        let (mut bias, mut bias_squared) = (0.0f32, 1e-6f32);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        for _ in 0..opts.epochs {
            docs.shuffle(&mut rng);
            for d in &docs {
                // The engine scores tanh(z / 2); the logistic of z is its probability reading.
                let z = bias
                    + d.offset
                    + d.features
                        .iter()
                        .map(|(id, x)| weights[*id] * x)
                        .sum::<f32>();
                let p = 1.0 / (1.0 + (-z).exp());
                let y = if d.positive { 1.0 } else { 0.0 };
                let g = (p - y) * if d.positive { w_pos } else { w_neg };
                for (id, x) in &d.features {
                    let i = *id;
                    let grad = g * x + l2[i] * weights[i];
                    squared[i] += grad * grad;
                    weights[i] -= opts.learning_rate * grad / squared[i].sqrt();
                    weights[i] = weights[i].clamp(bounds[i].0, bounds[i].1);
                }
                bias_squared += g * g;
                bias -= opts.learning_rate * g / bias_squared.sqrt();
            }
        }
        (weights, [bias])
    });
    let bias = bias[0];
    let mut learned = Learned {
        bias: (bias * 1000.0).round() / 1000.0,
        ..Default::default()
    };
    for (t, w) in vocabulary.iter().zip(weights) {
        if w.abs() < 0.02 {
            continue;
        }
        let w = (w * 1000.0).round() / 1000.0;
        match t.split_once(' ') {
            Some(_) => learned.pairs.push((t.to_string(), w)),
            None => {
                learned.weights.insert(t.to_string(), w);
            }
        }
    }
    learned
}

/// The learned weights as a readable, sorted file.
pub fn render(learned: &Learned, provenance: &str) -> String {
    let mut rows: Vec<(&String, &f32)> = learned
        .weights
        .iter()
        .chain(learned.pairs.iter().map(|(t, w)| (t, w)))
        .collect();
    rows.sort_by(|a, b| b.1.total_cmp(a.1).then(a.0.cmp(b.0)));
    let mut out = String::new();
    for line in provenance.lines() {
        out.push_str("# ");
        out.push_str(line);
        out.push('\n');
    }
    out.push_str("# term\tweight (added to polarity.tsv's curated weight; positive = positive)\n");
    out.push_str(&format!("__bias__\t{}\n", learned.bias));
    for (t, w) in rows {
        out.push_str(&format!("{t}\t{w}\n"));
    }
    out
}

/// Deterministic fold assignment: item i goes to fold `folds[i]`.
pub fn fold_assignment(n: usize, k: usize, seed: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    let mut folds = vec![0; n];
    for (rank, i) in order.into_iter().enumerate() {
        folds[i] = rank % k;
    }
    folds
}

/// A labelled text for emotions: its class in `EMOTION_CLASSES`.
#[derive(Debug, Clone)]
pub struct EmotionExample {
    pub text: String,
    pub class: usize,
}

/// A text for the emotion model: its features by id, its class, and the curated lexicon's
/// offset to its logits.
#[derive(Clone)]
struct EmotionDoc {
    features: Vec<(usize, f32)>,
    class: usize,
    offset: [f32; 6],
}

/// A softmax regression over the engine's emotion features (terms not negated, by degree, and
/// emoticons), trained like the polarity model: AdaGrad, classes weighted to balance.
pub fn train_emotions(
    engine: &Engine,
    examples: &[EmotionExample],
    opts: &TrainOptions,
) -> super::LearnedEmotions {
    const K: usize = 6;
    let featurised = on_both_cores(examples, |e| engine.emotion_features(&e.text));
    let (vocabulary, ids) = vocabulary(featurised.iter().map(|f| f.0.as_slice()), opts.min_docs);
    let docs: Vec<EmotionDoc> = featurised
        .iter()
        .zip(examples)
        .map(|((features, offset), e)| EmotionDoc {
            features: by_id(features, &ids),
            class: e.class.min(K - 1),
            offset: *offset,
        })
        .collect();
    let mut counts = [0usize; K];
    for d in &docs {
        counts[d.class] += 1;
    }
    let class_weight: [f32; K] =
        std::array::from_fn(|c| docs.len() as f32 / (K as f32 * counts[c].max(1) as f32));
    let (weights, bias) = mean_of_runs(opts, |seed| {
        let mut docs = docs.clone();
        let mut weights = vec![[0.0f32; K]; vocabulary.len()];
        let mut squared = vec![[1e-6f32; K]; vocabulary.len()];
        let (mut bias, mut bias_squared) = ([0.0f32; K], [1e-6f32; K]);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        for _ in 0..opts.epochs {
            docs.shuffle(&mut rng);
            for EmotionDoc {
                features,
                class,
                offset,
            } in &docs
            {
                let mut z = bias;
                for (zc, o) in z.iter_mut().zip(offset) {
                    *zc += o;
                }
                for (id, x) in features {
                    for (zc, w) in z.iter_mut().zip(&weights[*id]) {
                        *zc += w * x;
                    }
                }
                let p = super::softmax(z);
                let cw = class_weight[*class];
                for c in 0..K {
                    let g = (p[c] - if c == *class { 1.0 } else { 0.0 }) * cw;
                    for (id, x) in features {
                        let grad = g * x + opts.l2 * weights[*id][c];
                        squared[*id][c] += grad * grad;
                        weights[*id][c] -= opts.learning_rate * grad / squared[*id][c].sqrt();
                    }
                    bias_squared[c] += g * g;
                    bias[c] -= opts.learning_rate * g / bias_squared[c].sqrt();
                }
            }
        }
        (weights, bias)
    });
    let round = |w: f32| (w * 1000.0).round() / 1000.0;
    let mut learned = super::LearnedEmotions {
        bias: bias.map(round),
        ..Default::default()
    };
    for (t, row) in vocabulary.iter().zip(weights) {
        if row.iter().all(|w| w.abs() < 0.02) {
            continue;
        }
        learned.weights.insert(t.to_string(), row.map(round));
    }
    learned
}

/// The learned emotion weights as a readable, sorted file.
pub fn render_emotions(learned: &super::LearnedEmotions, provenance: &str) -> String {
    let mut rows: Vec<(&String, &[f32; 6])> = learned.weights.iter().collect();
    rows.sort_by(|a, b| a.0.cmp(b.0));
    let mut out = String::new();
    for line in provenance.lines() {
        out.push_str("# ");
        out.push_str(line);
        out.push('\n');
    }
    out.push_str(&format!(
        "# term\t{}   (summed per class, softmax gives the probabilities)\n",
        super::EMOTION_CLASSES.join("\t")
    ));
    let line = |t: &str, row: &[f32; 6]| {
        let values: Vec<String> = row.iter().map(|w| w.to_string()).collect();
        format!("{t}\t{}\n", values.join("\t"))
    };
    out.push_str(&line("__bias__", &learned.bias));
    for (t, row) in rows {
        out.push_str(&line(t, row));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Thirty rounds of the labelled templates, `{n}` in each a numeral that varies so that the
    /// texts differ.
    fn thirty_times(templates: &[(&str, bool)]) -> Vec<Example> {
        (0..30)
            .flat_map(|i| {
                let n = ["一", "二", "三"][i % 3];
                templates.iter().map(move |(t, positive)| Example {
                    text: t.replace("{n}", n),
                    positive: *positive,
                })
            })
            .collect()
    }

    #[test]
    fn topical_words_learn_smaller_weights_than_words_that_judge() {
        let mut engine = Engine::embedded().unwrap();
        engine.set_learned(Default::default());
        // 领导 (a noun) and 夸奖 (a verb) each come only with praise, 同事 and 批评 with blame.
        let examples = thirty_times(&[
            ("第{n}次领导来了", true),
            ("第{n}次同事来了", false),
            ("第{n}次被夸奖", true),
            ("第{n}次被批评", false),
        ]);
        let plain = TrainOptions {
            topical_l2: TrainOptions::default().l2,
            ..TrainOptions::default()
        };
        let alike = train(&engine, &examples, &plain).weights;
        let topical = train(&engine, &examples, &TrainOptions::default()).weights;
        assert!(topical["领导"] > 0.0 && topical["领导"] < alike["领导"] * 0.8);
        assert!(topical["同事"] < 0.0 && topical["同事"] > alike["同事"] * 0.8);
        // A word that judges is penalised as before.
        assert!((topical["夸奖"] - alike["夸奖"]).abs() < 0.05 * alike["夸奖"].abs());
    }

    #[test]
    fn a_curated_word_learns_to_temper_its_weight_by_half_at_most() {
        let mut engine = Engine::embedded().unwrap();
        engine.set_learned(Default::default());
        // Hotel guests hedge their praise with 遗憾 (curated −1.2): it comes only with praise
        // here, and 失望 (curated too) only with blame.
        let examples = thirty_times(&[
            ("第{n}次入住，唯一遗憾的是早餐", true),
            ("第{n}次入住，有点失望", false),
        ]);
        let learned = train(&engine, &examples, &TrainOptions::default()).weights;
        let curated = |w: &str| engine.info(w).unwrap().curated;
        assert!(curated("遗憾") < 0.0 && curated("失望") < 0.0);
        // Pulled up to half its curated weight, never past it.
        assert!(
            (learned["遗憾"] + curated("遗憾") / 2.0).abs() < 1e-3,
            "{}",
            learned["遗憾"]
        );
        // A word the data agrees with learns freely.
        assert!(learned["失望"] < 0.0);
    }

    #[test]
    fn learned_emotions_decide_the_dominant_emotion() {
        let mut engine = Engine::embedded().unwrap();
        // Words the curated lexicon gives no emotion, each taught one class.
        let mut examples = Vec::new();
        for i in 0..20 {
            let n = ["一", "二", "三", "四"][i % 4];
            examples.push(EmotionExample {
                text: format!("第{n}次看到苹果"),
                class: 0,
            });
            examples.push(EmotionExample {
                text: format!("第{n}次看到香蕉"),
                class: 3,
            });
            examples.push(EmotionExample {
                text: format!("第{n}次看到桌子"),
                class: 5,
            });
        }
        let learned = train_emotions(&engine, &examples, &TrainOptions::default());
        assert!(learned.weights.contains_key("苹果"));
        engine.set_learned_emotions(learned);
        assert_eq!(engine.analyze("又看到苹果").emotion, Some("乐"));
        assert_eq!(engine.analyze("又看到香蕉").emotion, Some("惧"));
        assert_eq!(engine.analyze("又看到桌子").emotion, None);
        let a = engine.analyze("又看到香蕉");
        assert!((a.emotions.iter().sum::<f32>() - 1.0).abs() < 0.01);
        // Without learned weights the lexicon decides, and these words carry nothing.
        engine.set_learned_emotions(Default::default());
        assert_eq!(engine.analyze("又看到香蕉").emotion, None);
    }
}
