//! `train-crisis` and `eval-crisis`: learning the crisis screen (`dictionaries/crisis_model.tsv`)
//! and measuring it on crisis sets it did not learn from.

use crate::engine::crisis::Risk;
use crate::engine::crisis_model::{self, CrisisExample, CrisisTrainOptions};
use crate::engine::Engine;
use crate::error::{Failure, FailureKind};
use anyhow::{Context, Result};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::io::Write;
use std::path::{Path, PathBuf};

/// `FILE:TEXT_COLUMN`: ordinary text to learn "not a crisis" from.
#[derive(Debug, Clone)]
pub struct TextSpec {
    pub path: String,
    pub column: String,
}

impl std::str::FromStr for TextSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.rsplit_once(':') {
            Some((path, column)) if !path.is_empty() && !column.is_empty() => Ok(TextSpec {
                path: path.to_string(),
                column: column.to_string(),
            }),
            _ => Err(format!("'{s}': expected FILE:TEXT_COLUMN")),
        }
    }
}

/// A crisis set: `tier<TAB>text` lines (tier imminent, ideation, self_harm, harm_others, or
/// none for a hard negative); `#` starts a comment.
pub fn read_crisis_set(path: &Path) -> Result<Vec<(Risk, String)>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let bad = |why: &str| {
            Failure::new(
                FailureKind::Input,
                format!("{}:{}: {why}", path.display(), n + 1),
            )
        };
        let (tier, body) = line
            .split_once('\t')
            .ok_or_else(|| bad("expected tier<TAB>text"))?;
        let risk = Risk::parse(tier).ok_or_else(|| {
            bad(&format!(
                "unknown tier '{tier}' (imminent, ideation, self_harm, harm_others or none)"
            ))
        })?;
        out.push((risk, body.to_string()));
    }
    Ok(out)
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |f| f.to_string_lossy().into_owned(),
    )
}

/// Ordinary texts of each background file, split into a deterministic sample to learn from
/// and the rest, on which the false-alarm rate is measured. All as the crisis detectors read
/// them (`Engine::crisis_text`), normalised once.
struct Background {
    name: String,
    sample: Vec<String>,
    rest: Vec<String>,
}

fn backgrounds(
    engine: &Engine,
    specs: &[TextSpec],
    sample: usize,
    seed: u64,
) -> Result<Vec<Background>> {
    specs
        .iter()
        .map(|spec| {
            let mut texts = crate::textio::read_texts(&spec.path, &spec.column)?;
            texts.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
            let mut texts: Vec<String> = texts.iter().map(|t| engine.crisis_text(t)).collect();
            let rest = texts.split_off(sample.min(texts.len()));
            Ok(Background {
                name: file_name(Path::new(&spec.path)),
                sample: texts,
                rest,
            })
        })
        .collect()
}

/// A crisis set, its lines normalised as the detectors read them.
struct Set {
    name: String,
    lines: Vec<(Risk, String)>,
}

fn read_sets(engine: &Engine, paths: &[PathBuf]) -> Result<Vec<Set>> {
    paths
        .iter()
        .map(|p| {
            Ok(Set {
                name: file_name(p),
                lines: read_crisis_set(p)?
                    .into_iter()
                    .map(|(risk, text)| (risk, engine.crisis_text(&text)))
                    .collect(),
            })
        })
        .collect()
}

fn examples<'a>(
    engine: &Engine,
    sets: impl Iterator<Item = &'a Set>,
    backgrounds: &[Background],
) -> Vec<CrisisExample> {
    let lines = sets
        .flat_map(|s| &s.lines)
        .map(|(risk, text)| CrisisExample {
            text: engine.screen_text(text),
            risk: *risk,
            whole: true,
        });
    let ordinary = backgrounds
        .iter()
        .flat_map(|b| &b.sample)
        .map(|text| CrisisExample {
            text: engine.screen_text(text),
            risk: Risk::None,
            whole: false,
        });
    lines.chain(ordinary).collect()
}

const SEED: u64 = 5;

/// Learns the screen from every set and the background sample and writes the weights file.
#[allow(clippy::too_many_arguments)]
pub fn train_crisis(
    engine: &Engine,
    set_paths: &[PathBuf],
    background: &[TextSpec],
    sample: usize,
    threshold: f32,
    out: &Path,
    command_line: &str,
) -> Result<usize> {
    let sets = read_sets(engine, set_paths)?;
    let backgrounds = backgrounds(engine, background, sample, SEED)?;
    let examples = examples(engine, sets.iter(), &backgrounds);
    if !examples.iter().any(|e| e.risk != Risk::None) {
        return Err(Failure::new(FailureKind::Input, "no crisis lines to learn from").into());
    }
    let opts = CrisisTrainOptions {
        threshold,
        ..Default::default()
    };
    let (rows, bias, tier_bias) = crisis_model::train(&examples, &opts);
    let provenance = format!(
        "Learned crisis screen, written by xinqing from the crisis sets {} ({} lines) and {} \
         sentences' worth of ordinary texts sampled from {}.\nReproduce with: {command_line}\n\
         Logistic regression over character 1–3-grams per sentence, tiers by a softmax on the \
         crisis lines (see src/engine/crisis_model.rs); measured by xinqing eval-crisis.",
        sets.iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        sets.iter().map(|s| s.lines.len()).sum::<usize>(),
        backgrounds.iter().map(|b| b.sample.len()).sum::<usize>(),
        backgrounds
            .iter()
            .map(|b| format!("{} ({} texts)", b.name, b.sample.len()))
            .collect::<Vec<_>>()
            .join(", "),
    );
    std::fs::write(
        out,
        crisis_model::render(&rows, bias, tier_bias, threshold, &provenance),
    )
    .with_context(|| format!("cannot write {}", out.display()))?;
    Ok(rows.len())
}

/// Counts for recall and precision (crisis against none) and tier agreement.
#[derive(Default, Clone, Copy)]
struct Tally {
    tp: usize,
    fp: usize,
    fn_: usize,
    tier_right: usize,
}

impl Tally {
    fn add(&mut self, gold: Risk, got: Risk) {
        match (gold != Risk::None, got != Risk::None) {
            (true, true) => {
                self.tp += 1;
                self.tier_right += usize::from(gold == got);
            }
            (false, true) => self.fp += 1,
            (true, false) => self.fn_ += 1,
            (false, false) => {}
        }
    }

    fn merge(&mut self, o: Tally) {
        self.tp += o.tp;
        self.fp += o.fp;
        self.fn_ += o.fn_;
        self.tier_right += o.tier_right;
    }

    fn show(&self) -> String {
        if self.tp + self.fn_ == 0 {
            return format!("{} false alarms", self.fp);
        }
        let recall = self.tp as f64 / (self.tp + self.fn_).max(1) as f64;
        let precision = self.tp as f64 / (self.tp + self.fp).max(1) as f64;
        format!("{recall:.3} / {precision:.3}")
    }
}

/// Leave one set out: for each set, the screen is learned from the other sets (and the
/// background sample) and tested on it, beside the patterns and cues. Then the false alarms of
/// each on the background texts that were not sampled.
pub fn eval_crisis(
    engine: &Engine,
    set_paths: &[PathBuf],
    background: &[TextSpec],
    sample: usize,
    threshold: f32,
    out: &mut dyn Write,
) -> Result<()> {
    let sets = read_sets(engine, set_paths)?;
    let backgrounds = backgrounds(engine, background, sample, SEED)?;
    let opts = CrisisTrainOptions {
        threshold,
        ..Default::default()
    };
    const SWEEP: [f32; 8] = [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95];
    writeln!(
        out,
        "Leave one set out: the screen learned on the other sets and {} background texts, tested on the set left out.\n\
         recall / precision (crisis against none); tiers: right tier among the crisis lines found.\n\
         Threshold {threshold}.\n\n{:<26} {:>5} {:>6}  {:>15}  {:>15}  {:>15}  {:>12}",
        backgrounds.iter().map(|b| b.sample.len()).sum::<usize>(),
        "set",
        "lines",
        "crisis",
        "patterns+cues",
        "screen",
        "either",
        "tiers (either)"
    )?;
    let (mut rules_all, mut screen_all, mut both_all) =
        (Tally::default(), Tally::default(), Tally::default());
    let mut sweep = [(Tally::default(), Tally::default()); SWEEP.len()];
    for (k, held) in sets.iter().enumerate() {
        let training = examples(
            engine,
            sets.iter()
                .enumerate()
                .filter(|(i, _)| *i != k)
                .map(|(_, s)| s),
            &backgrounds,
        );
        let model = crisis_model::train_model(&training, &opts);
        let (mut rules, mut screen, mut both) =
            (Tally::default(), Tally::default(), Tally::default());
        for (gold, text) in &held.lines {
            let by_rules = engine.crisis_rules(text);
            // The sweep reads every sentence masked; the screen as the engine runs it.
            let p = model.max_probability(&engine.screen_text(text));
            let by_screen = engine
                .screen_with(&model, text)
                .map_or(Risk::None, |s| s.risk);
            // For the sweep, the tier does not matter: crisis or not, as Ideation or None.
            let any = |crisis: bool| if crisis { Risk::Ideation } else { Risk::None };
            let gold_any = any(*gold != Risk::None);
            for (i, t) in SWEEP.iter().enumerate() {
                let flagged = any(p >= *t);
                sweep[i].0.add(gold_any, flagged);
                let either = if by_rules != Risk::None {
                    Risk::Ideation
                } else {
                    flagged
                };
                sweep[i].1.add(gold_any, either);
            }
            rules.add(*gold, by_rules);
            screen.add(*gold, by_screen);
            both.add(
                *gold,
                if by_rules != Risk::None {
                    by_rules
                } else {
                    by_screen
                },
            );
        }
        writeln!(
            out,
            "{:<26} {:>5} {:>6}  {:>15}  {:>15}  {:>15}  {:>5} of {:<4}",
            held.name,
            held.lines.len(),
            held.lines.iter().filter(|(r, _)| *r != Risk::None).count(),
            rules.show(),
            screen.show(),
            both.show(),
            both.tier_right,
            both.tp
        )?;
        rules_all.merge(rules);
        screen_all.merge(screen);
        both_all.merge(both);
    }
    writeln!(
        out,
        "{:<26} {:>5} {:>6}  {:>15}  {:>15}  {:>15}  {:>5} of {:<4}\n",
        "all sets, pooled",
        sets.iter().map(|s| s.lines.len()).sum::<usize>(),
        sets.iter()
            .flat_map(|s| &s.lines)
            .filter(|(r, _)| *r != Risk::None)
            .count(),
        rules_all.show(),
        screen_all.show(),
        both_all.show(),
        both_all.tier_right,
        both_all.tp
    )?;
    writeln!(out, "Pooled, by threshold (screen alone; either):")?;
    for (t, (s, b)) in SWEEP.iter().zip(&sweep) {
        writeln!(out, "  {t}: {}; {}", s.show(), b.show())?;
    }
    let full = crisis_model::train_model(&examples(engine, sets.iter(), &backgrounds), &opts);
    writeln!(
        out,
        "\nFalse alarms on the background texts not sampled (the screen learned from every set):"
    )?;
    for b in &backgrounds {
        let (mut rules, mut screen, mut either) = (0, 0, 0);
        let mut by_threshold = [0usize; SWEEP.len()];
        for text in &b.rest {
            let r = engine.crisis_rules(text) != Risk::None;
            let p = full.max_probability(&engine.screen_text(text));
            for (n, t) in by_threshold.iter_mut().zip(SWEEP) {
                *n += usize::from(p >= t);
            }
            let s = engine.screen_with(&full, text).is_some();
            rules += usize::from(r);
            screen += usize::from(s);
            either += usize::from(r || s);
        }
        let pct = |n: usize| 100.0 * n as f64 / b.rest.len().max(1) as f64;
        writeln!(
            out,
            "  {}: {} texts; patterns+cues flag {rules} ({:.2}%), screen {screen} ({:.2}%), either {either} ({:.2}%)",
            b.name,
            b.rest.len(),
            pct(rules),
            pct(screen),
            pct(either)
        )?;
        writeln!(
            out,
            "    screen alone by threshold: {}",
            SWEEP
                .iter()
                .zip(by_threshold)
                .map(|(t, n)| format!("{t}: {:.2}%", pct(n)))
                .collect::<Vec<_>>()
                .join(", ")
        )?;
    }
    Ok(())
}
