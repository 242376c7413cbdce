//! The text commands: `score`, `segment`, `eval` and `train`.

use crate::engine::learn::{self, Example, TrainOptions};
use crate::engine::{self, segmenter, Analysis, Engine, Polarity, EMOTIONS};
use crate::error::{Failure, FailureKind};
use crate::textio::{cell, read_labelled, DataSpec, Gold, Input, LabelScheme};
use anyhow::{Context, Result};
use serde_json::json;
use std::io::Write;
use std::path::Path;

/// Rows per batch handed to a scoring worker.
const BATCH: usize = 512;

fn output_writer(output: Option<&Path>) -> Result<Box<dyn Write>> {
    Ok(match output {
        Some(p) => Box::new(std::io::BufWriter::with_capacity(
            1 << 20,
            std::fs::File::create(p).with_context(|| format!("cannot create {}", p.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout())),
    })
}

fn is_csv(output: Option<&Path>) -> bool {
    output.is_some_and(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv")))
}

/// f32 → f64 would print 0.635 as 0.6349999904632568.
fn r3(x: f32) -> f64 {
    (x as f64 * 1000.0).round() / 1000.0
}

/// The seven emotion scores as a JSON object keyed by class.
struct SevenScores<'a>(&'a [f32; 7]);

impl serde::Serialize for SevenScores<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(7))?;
        for (k, v) in EMOTIONS.iter().zip(self.0) {
            map.serialize_entry(k, &r3(*v))?;
        }
        map.end()
    }
}

#[derive(serde::Serialize)]
struct TermRow<'a> {
    term: &'a str,
    weight: f64,
    rule: &'a str,
}

fn term_rows(a: &Analysis) -> Vec<TermRow<'_>> {
    a.terms
        .iter()
        .map(|t| TermRow {
            term: &t.term,
            weight: r3(t.weight),
            rule: &t.rule,
        })
        .collect()
}

/// The output fields of `score`, in order (the CSV header; `ScoredRow` serialises the same).
pub const SCORE_FIELDS: [&str; 10] = [
    "id",
    "polarity",
    "score",
    "emotion",
    "emotions",
    "risk",
    "risk_terms",
    "topics",
    "keywords",
    "terms",
];

/// One JSON line for a scored text: the fields of `SCORE_FIELDS`, in order. Written by hand
/// rather than through a derived `Serialize`: the shape is fixed, every number is rounded to
/// three decimals, and serde's map machinery and shortest-float search were 7% of `score`.
/// A test checks it byte for byte against serde_json.
pub fn analysis_json_line(id: &str, a: &Analysis) -> Vec<u8> {
    let text_bytes: usize = a
        .terms
        .iter()
        .map(|t| t.term.len() + t.rule.len())
        .sum::<usize>()
        + a.keywords.iter().map(|k| k.len()).sum::<usize>();
    let mut line = Vec::with_capacity(320 + id.len() + text_bytes + 32 * a.terms.len());
    line.extend_from_slice(b"{\"id\":");
    json_str(&mut line, id);
    line.extend_from_slice(b",\"polarity\":");
    json_str(&mut line, a.polarity.name());
    line.extend_from_slice(b",\"score\":");
    json_milli(&mut line, a.score);
    line.extend_from_slice(b",\"emotion\":");
    match a.emotion {
        Some(e) => json_str(&mut line, e),
        None => line.extend_from_slice(b"null"),
    }
    line.extend_from_slice(b",\"emotions\":{");
    for (i, (class, v)) in EMOTIONS.iter().zip(&a.emotions).enumerate() {
        if i > 0 {
            line.push(b',');
        }
        json_str(&mut line, class);
        line.push(b':');
        json_milli(&mut line, *v);
    }
    line.extend_from_slice(b"},\"risk\":");
    json_str(&mut line, a.risk.name());
    line.extend_from_slice(b",\"risk_terms\":");
    json_str_array(&mut line, a.risk_terms.iter().map(String::as_str));
    line.extend_from_slice(b",\"topics\":");
    json_str_array(&mut line, a.topics.iter().copied());
    line.extend_from_slice(b",\"keywords\":");
    json_str_array(&mut line, a.keywords.iter().map(|k| k.as_str()));
    line.extend_from_slice(b",\"terms\":[");
    for (i, t) in a.terms.iter().enumerate() {
        if i > 0 {
            line.push(b',');
        }
        line.extend_from_slice(b"{\"term\":");
        json_str(&mut line, &t.term);
        line.extend_from_slice(b",\"weight\":");
        json_milli(&mut line, t.weight);
        line.extend_from_slice(b",\"rule\":");
        json_str(&mut line, &t.rule);
        line.push(b'}');
    }
    line.extend_from_slice(b"]}\n");
    line
}

/// A JSON string, escaped as serde_json escapes it.
fn json_str(out: &mut Vec<u8>, s: &str) {
    serde_json::to_writer(&mut *out, s).expect("writing to a Vec cannot fail");
}

fn json_str_array<'s>(out: &mut Vec<u8>, items: impl Iterator<Item = &'s str>) {
    out.push(b'[');
    for (i, s) in items.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        json_str(out, s);
    }
    out.push(b']');
}

/// `r3(x)` as serde_json prints it (`0.63`, `-1.017`, `1.0`, `-0.0`), from the integer count of
/// thousandths: `m / 1000.0` is the double nearest the decimal, which is therefore its shortest
/// round-trip form. Beyond the range where that holds (never for scores), serde_json prints.
fn json_milli(out: &mut Vec<u8>, x: f32) {
    let milli = (x as f64 * 1000.0).round();
    if milli.is_nan() || milli.abs() >= 1e15 {
        serde_json::to_writer(&mut *out, &r3(x)).expect("writing to a Vec cannot fail");
        return;
    }
    if milli.is_sign_negative() {
        out.push(b'-');
    }
    let mut buf = [0; engine::THOUSANDTHS_LEN];
    out.extend_from_slice(engine::thousandths(milli.abs() as u64, 1, &mut buf));
}

/// Runs `work` over a batch on two threads and returns the results in order.
fn parallel<T: Sync, R: Send>(items: &[T], work: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(4);
    if items.len() < 64 || threads == 1 {
        return items.iter().map(&work).collect();
    }
    let chunk = items.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|c| {
                let work = &work;
                scope.spawn(move || c.iter().map(work).collect::<Vec<_>>())
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("scoring thread"))
            .collect()
    })
}

/// Streams an input through `work` on every core and hands the results to `emit` in input
/// order: a reader thread batches rows, workers score batches, this thread writes. Unreadable
/// rows are reported on stderr with their line and skipped.
fn pipeline<R: Send>(
    input_path: &str,
    text_column: &str,
    id_column: Option<&str>,
    work: impl Fn(&str, &str) -> R + Sync,
    mut emit: impl FnMut(&str, R) -> Result<()>,
) -> Result<(u64, u64)> {
    type Batch = (u64, Vec<(String, String)>);
    let mut input = Input::open(input_path)?;
    input.require(text_column)?;
    if let Some(c) = id_column {
        input.require(c)?;
    }
    let rows = input.take_rows();
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 8);
    let (batch_tx, batch_rx) = std::sync::mpsc::sync_channel::<Batch>(workers * 2);
    let batch_rx = std::sync::Mutex::new(batch_rx);
    let (done_tx, done_rx) =
        std::sync::mpsc::sync_channel::<(u64, Vec<(String, String)>, Vec<R>)>(workers * 2);
    let headers = input.headers();
    let headers = headers.as_deref();
    // Without --id-column, a column (or JSONL key) named id gives the ids, as a reader of the
    // file expects; a row without one is known by its line number.
    let id_column = id_column.or(match headers {
        Some(h) if !h.iter().any(|c| c == "id") => None,
        _ => Some("id"),
    });
    std::thread::scope(|scope| -> Result<(u64, u64)> {
        let reader = scope.spawn(move || -> Result<(u64, u64)> {
            let (mut good, mut bad, mut seq) = (0u64, 0u64, 0u64);
            let mut batch = Vec::with_capacity(BATCH);
            for row in rows {
                let row = row?;
                let text = match (&row.problem, cell(headers, &row, text_column)) {
                    (None, Some(text)) => text.to_string(),
                    (problem, _) => {
                        bad += 1;
                        let why = problem
                            .clone()
                            .unwrap_or_else(|| format!("no '{text_column}' in this row"));
                        eprintln!("xinqing: {input_path}: line {}: {why}; skipped", row.line);
                        continue;
                    }
                };
                let id = id_column
                    .and_then(|c| cell(headers, &row, c))
                    .map_or_else(|| row.line.to_string(), str::to_string);
                good += 1;
                batch.push((id, text));
                if batch.len() == BATCH {
                    if batch_tx.send((seq, std::mem::take(&mut batch))).is_err() {
                        break;
                    }
                    seq += 1;
                }
            }
            if !batch.is_empty() {
                let _ = batch_tx.send((seq, batch));
            }
            Ok((good, bad))
        });
        for _ in 0..workers {
            let (batch_rx, done_tx, work) = (&batch_rx, done_tx.clone(), &work);
            scope.spawn(move || loop {
                let Ok((seq, batch)) = batch_rx.lock().expect("queue").recv() else {
                    return;
                };
                let results = batch.iter().map(|(id, text)| work(id, text)).collect();
                if done_tx.send((seq, batch, results)).is_err() {
                    return;
                }
            });
        }
        drop(done_tx);
        // Batches finish out of order; hold the early ones until their turn.
        let mut waiting = std::collections::BTreeMap::new();
        let mut next = 0u64;
        for (seq, batch, results) in done_rx {
            waiting.insert(seq, (batch, results));
            while let Some((batch, results)) = waiting.remove(&next) {
                for ((id, _), result) in batch.iter().zip(results) {
                    emit(id, result)?;
                }
                next += 1;
            }
        }
        let (good, bad) = reader
            .join()
            .map_err(|_| anyhow::anyhow!("the reader thread panicked"))??;
        if good == 0 && bad > 0 {
            return Err(Failure::new(
                FailureKind::Input,
                format!("{input_path}: none of its {bad} rows could be read"),
            )
            .into());
        }
        Ok((good, bad))
    })
}

pub fn score(
    engine: &Engine,
    input: &str,
    text_column: &str,
    id_column: Option<&str>,
    output: Option<&Path>,
) -> Result<(u64, u64)> {
    let out = output_writer(output)?;
    let mut sink = if is_csv(output) {
        let mut w = csv::Writer::from_writer(out);
        w.write_record(SCORE_FIELDS)?;
        Sink::Csv(Box::new(w))
    } else {
        Sink::Json(out)
    };
    let counts = match &mut sink {
        // JSON lines are written by the scoring workers; the writer only copies bytes.
        Sink::Json(out) => pipeline(
            input,
            text_column,
            id_column,
            |id, text| analysis_json_line(id, &engine.analyze(text)),
            |_, line| Ok(out.write_all(&line)?),
        )?,
        Sink::Csv(w) => pipeline(
            input,
            text_column,
            id_column,
            |_, text| engine.analyze(text),
            |id, a| {
                w.write_record([
                    id,
                    a.polarity.name(),
                    &a.score.to_string(),
                    a.emotion.unwrap_or(""),
                    &serde_json::to_string(&SevenScores(&a.emotions))?,
                    a.risk.name(),
                    &a.risk_terms.join("|"),
                    &a.topics.join("|"),
                    &a.keywords.join("|"),
                    &serde_json::to_string(&term_rows(&a))?,
                ])?;
                Ok(())
            },
        )?,
    };
    match sink {
        Sink::Csv(mut w) => w.flush()?,
        Sink::Json(mut out) => out.flush()?,
    }
    Ok(counts)
}

enum Sink {
    Json(Box<dyn Write>),
    Csv(Box<csv::Writer<Box<dyn Write>>>),
}

pub fn segment(
    engine: &Engine,
    input: &str,
    text_column: &str,
    id_column: Option<&str>,
    output: Option<&Path>,
) -> Result<(u64, u64)> {
    let mut out = output_writer(output)?;
    let csv_out = is_csv(output);
    if csv_out {
        out.write_all(b"id,tokens\n")?;
    }
    let counts = pipeline(
        input,
        text_column,
        id_column,
        |_, text| engine.segment(text),
        |id, tokens| {
            if csv_out {
                let mut w = csv::Writer::from_writer(Vec::new());
                w.write_record([id, &tokens.join(" ")])?;
                out.write_all(&w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?)?;
            } else {
                serde_json::to_writer(&mut out, &json!({ "id": id, "tokens": tokens }))?;
                out.write_all(b"\n")?;
            }
            Ok(())
        },
    )?;
    out.flush()?;
    Ok(counts)
}

/// Polarity figures with the convention of peers.py: items labelled positive or negative;
/// an undecided (neutral) answer counts as wrong; macro-F1 over positive and negative.
#[derive(Debug, Default, serde::Serialize)]
pub struct PolarityReport {
    pub items: usize,
    pub accuracy: f64,
    pub macro_f1: f64,
    /// Rows: gold positive, gold negative. Columns: predicted positive, neutral, negative.
    pub confusion: [[usize; 3]; 2],
    /// Items labelled neutral, as read (positive, neutral, negative): outside the headline
    /// figures, as in peers.py, but a bulletin's shares count them.
    pub gold_neutral: [usize; 3],
    pub texts_per_second: f64,
    /// Emotion accuracy over the six SMP2020 classes, when the labels carry emotions.
    pub emotion_items: usize,
    pub emotion_accuracy: Option<f64>,
    pub emotion_macro_f1: Option<f64>,
    pub folds: Option<usize>,
}

fn f1(tp: usize, fp: usize, fn_: usize) -> f64 {
    let p = if tp + fp > 0 {
        tp as f64 / (tp + fp) as f64
    } else {
        0.0
    };
    let r = if tp + fn_ > 0 {
        tp as f64 / (tp + fn_) as f64
    } else {
        0.0
    };
    if p + r > 0.0 {
        2.0 * p * r / (p + r)
    } else {
        0.0
    }
}

fn polarity_index(p: Polarity) -> usize {
    match p {
        Polarity::Positive => 0,
        Polarity::Neutral => 1,
        Polarity::Negative => 2,
    }
}

pub struct EvalOptions<'a> {
    pub input: &'a str,
    pub text_column: &'a str,
    pub label_column: &'a str,
    pub labels: LabelScheme,
    /// Train on k−1 folds (and `train_also`) and test on the k-th, for each fold.
    pub folds: Option<usize>,
    pub train_also: &'a [DataSpec],
}

fn examples_of(rows: &[(String, Gold)]) -> Vec<Example> {
    // Neutral texts teach nothing: taught a probability of one half, they moved 5-fold
    // macro-F1 little but cost the feedback probes ten lines of 460 (session 30).
    rows.iter()
        .filter_map(|(text, gold)| match gold {
            Gold::Positive => Some(Example {
                text: text.clone(),
                positive: true,
            }),
            Gold::Negative => Some(Example {
                text: text.clone(),
                positive: false,
            }),
            _ => None,
        })
        .collect()
}

/// The index in `EMOTION_CLASSES` of a label, when the scheme names emotions.
fn emotion_class(labels: LabelScheme, label: &str) -> Option<usize> {
    let emotion = labels.emotion(label)?;
    crate::engine::EMOTION_CLASSES
        .iter()
        .position(|c| *c == emotion.unwrap_or("none"))
}

/// Emotion-labelled examples of a data spec (empty when its labels carry no emotions).
pub fn load_emotion_examples(spec: &DataSpec) -> Result<Vec<learn::EmotionExample>> {
    let rows = read_labelled(&spec.path, &spec.text_column, &spec.label_column)
        .with_context(|| format!("reading {}", spec.path))?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            emotion_class(spec.labels, &r.label).map(|class| learn::EmotionExample {
                text: r.text,
                class,
            })
        })
        .collect())
}

/// Labelled examples of a data spec, for training.
pub fn load_examples(spec: &DataSpec) -> Result<Vec<Example>> {
    let rows = read_labelled(&spec.path, &spec.text_column, &spec.label_column)
        .with_context(|| format!("reading {}", spec.path))?;
    spec.labels
        .check(&rows)
        .with_context(|| format!("reading {}", spec.path))?;
    let golds: Vec<(String, Gold)> = rows
        .into_iter()
        .filter_map(|r| spec.labels.polarity(&r.label).map(|g| (r.text, g)))
        .collect();
    Ok(examples_of(&golds))
}

pub fn eval(engine: &mut Engine, o: &EvalOptions<'_>) -> Result<PolarityReport> {
    let rows = read_labelled(o.input, o.text_column, o.label_column)?;
    o.labels.check(&rows)?;
    let labelled: Vec<(String, String)> = rows.into_iter().map(|r| (r.text, r.label)).collect();
    let golds: Vec<Option<Gold>> = labelled.iter().map(|(_, l)| o.labels.polarity(l)).collect();
    let mut predictions: Vec<Option<Analysis>> = vec![None; labelled.len()];
    let started = std::time::Instant::now();
    match o.folds {
        None => {
            let results = parallel(&labelled, |(text, _)| engine.analyze(text));
            for (slot, a) in predictions.iter_mut().zip(results) {
                *slot = Some(a);
            }
        }
        Some(k) => {
            let k = k.max(2);
            let mut extra = Vec::new();
            let mut extra_emotions = Vec::new();
            for spec in o.train_also {
                extra.extend(load_examples(spec)?);
                extra_emotions.extend(load_emotion_examples(spec)?);
            }
            let folds = learn::fold_assignment(labelled.len(), k, 11);
            for fold in 0..k {
                let training: Vec<(String, Gold)> = labelled
                    .iter()
                    .zip(&golds)
                    .zip(&folds)
                    .filter(|(_, f)| **f != fold)
                    .filter_map(|(((t, _), g), _)| g.map(|g| (t.clone(), g)))
                    .collect();
                let mut examples = examples_of(&training);
                examples.extend(extra.iter().cloned());
                let learned = learn::train(engine, &examples, &TrainOptions::default());
                engine.set_learned(learned);
                // Emotions are learned the same way, from the same training folds.
                let mut emotion_examples: Vec<learn::EmotionExample> = labelled
                    .iter()
                    .zip(&folds)
                    .filter(|(_, f)| **f != fold)
                    .filter_map(|((t, l), _)| {
                        emotion_class(o.labels, l).map(|class| learn::EmotionExample {
                            text: t.clone(),
                            class,
                        })
                    })
                    .collect();
                emotion_examples.extend(extra_emotions.iter().cloned());
                engine.set_learned_emotions(if emotion_examples.is_empty() {
                    Default::default()
                } else {
                    learn::train_emotions(engine, &emotion_examples, &TrainOptions::default())
                });
                let test: Vec<usize> = (0..labelled.len()).filter(|i| folds[*i] == fold).collect();
                let results = parallel(&test, |&i| engine.analyze(&labelled[i].0));
                for (i, a) in test.into_iter().zip(results) {
                    predictions[i] = Some(a);
                }
                eprintln!("fold {}/{k} done", fold + 1);
            }
        }
    }
    let elapsed = started.elapsed().as_secs_f64();

    let mut report = PolarityReport {
        folds: o.folds,
        ..Default::default()
    };
    for (gold, prediction) in golds.iter().zip(&predictions) {
        let (Some(gold), Some(a)) = (gold, prediction) else {
            continue;
        };
        let row = match gold {
            Gold::Positive => 0,
            Gold::Negative => 1,
            Gold::Neutral => {
                report.gold_neutral[polarity_index(a.polarity)] += 1;
                continue;
            }
            Gold::NoPolarity => continue,
        };
        report.confusion[row][polarity_index(a.polarity)] += 1;
    }
    let c = report.confusion;
    report.items = c[0].iter().sum::<usize>() + c[1].iter().sum::<usize>();
    if report.items > 0 {
        report.accuracy = (c[0][0] + c[1][2]) as f64 / report.items as f64;
    }
    let f_pos = f1(c[0][0], c[1][0], c[0][1] + c[0][2]);
    let f_neg = f1(c[1][2], c[0][2], c[1][0] + c[1][1]);
    report.macro_f1 = (f_pos + f_neg) / 2.0;
    report.texts_per_second = labelled.len() as f64 / elapsed.max(1e-9);

    // Emotions, where the labels name them.
    let classes = ["乐", "怒", "哀", "惧", "惊", "none"];
    let mut confusion = vec![[0usize; 6]; 6];
    for ((_, label), prediction) in labelled.iter().zip(&predictions) {
        let (Some(gold), Some(a)) = (o.labels.emotion(label), prediction) else {
            continue;
        };
        let g = classes
            .iter()
            .position(|c| *c == gold.unwrap_or("none"))
            .expect("class");
        // The engine's 好 (gratitude, praise) falls under SMP2020's happy and its 恶 (disgust,
        // contempt) under angry: each is the learned class the lexicon split in two, and
        // SMP2020 has no class of its own for either. 恶 had counted as no emotion.
        let predicted = match a.emotion {
            Some("好") => "乐",
            Some("恶") => "怒",
            Some(e) => e,
            None => "none",
        };
        let p = classes.iter().position(|c| *c == predicted).unwrap_or(5);
        confusion[g][p] += 1;
    }
    let total: usize = confusion.iter().flatten().sum();
    if total > 0 {
        report.emotion_items = total;
        report.emotion_accuracy =
            Some((0..6).map(|i| confusion[i][i]).sum::<usize>() as f64 / total as f64);
        let f1s: Vec<f64> = (0..6)
            .map(|i| {
                let tp = confusion[i][i];
                let fp: usize = (0..6).filter(|j| *j != i).map(|j| confusion[j][i]).sum();
                let fn_: usize = (0..6).filter(|j| *j != i).map(|j| confusion[i][j]).sum();
                f1(tp, fp, fn_)
            })
            .collect();
        report.emotion_macro_f1 = Some(f1s.iter().sum::<f64>() / 6.0);
    }
    Ok(report)
}

pub fn print_eval(r: &PolarityReport, out: &mut dyn Write) -> Result<()> {
    let how = match r.folds {
        Some(k) => format!("{k}-fold: each item scored by weights learned without it"),
        None => "the shipped dictionaries".to_string(),
    };
    writeln!(out, "polarity ({how})")?;
    writeln!(
        out,
        "  items {}  accuracy {:.4}  macro-F1 {:.4}  texts/s {:.0}",
        r.items, r.accuracy, r.macro_f1, r.texts_per_second
    )?;
    writeln!(out, "  gold \\ predicted   positive  neutral  negative")?;
    for (name, row) in ["positive", "negative"].iter().zip(r.confusion) {
        writeln!(
            out,
            "  {name:<18} {:>8} {:>8} {:>9}",
            row[0], row[1], row[2]
        )?;
    }
    let n = r.gold_neutral;
    if n.iter().sum::<usize>() > 0 {
        writeln!(
            out,
            "  {:<18} {:>8} {:>8} {:>9}   (not in the figures above; {:.1}% read neutral)",
            "neutral",
            n[0],
            n[1],
            n[2],
            100.0 * n[1] as f64 / n.iter().sum::<usize>() as f64
        )?;
    }
    if let (Some(acc), Some(f)) = (r.emotion_accuracy, r.emotion_macro_f1) {
        writeln!(
            out,
            "emotion (6 SMP2020 classes; 好 counted as happy, 恶 as angry)\n  items {}  accuracy {acc:.4}  macro-F1 {f:.4}",
            r.emotion_items
        )?;
    }
    Ok(())
}

/// Learns emotion weights from the data specs whose labels name emotions and writes them.
pub fn train_emotions(
    engine: &Engine,
    data: &[DataSpec],
    out: &Path,
    command_line: &str,
) -> Result<usize> {
    let mut examples = Vec::new();
    let mut sources = Vec::new();
    for spec in data {
        let e = load_emotion_examples(spec)?;
        if !e.is_empty() {
            sources.push(format!("{} ({} examples)", spec.path, e.len()));
        }
        examples.extend(e);
    }
    if examples.is_empty() {
        return Err(Failure::new(
            FailureKind::Input,
            "no emotion-labelled examples (labels smp2020) to learn emotions from",
        )
        .into());
    }
    let learned = learn::train_emotions(engine, &examples, &TrainOptions::default());
    let provenance = format!(
        "Emotion weights learned by xinqing from: {}\nReproduce with: {command_line}\n\
         Softmax regression over the engine's terms (not negated, by degree) and emoticons (see src/engine/learn.rs), \
         the mean of {} runs over the texts in different orders.",
        sources.join(", "),
        TrainOptions::default().runs
    );
    std::fs::write(out, learn::render_emotions(&learned, &provenance))
        .with_context(|| format!("cannot write {}", out.display()))?;
    Ok(learned.weights.len())
}

/// Learns polarity weights from the data specs, writes them, and puts them in `engine` (the
/// emotion model then learns beside them: the polarity score is one of its features).
pub fn train(
    engine: &mut Engine,
    data: &[DataSpec],
    out: &Path,
    command_line: &str,
) -> Result<usize> {
    let mut examples = Vec::new();
    let mut sources = Vec::new();
    for spec in data {
        let e = load_examples(spec)?;
        sources.push(format!(
            "{} ({} examples)",
            Path::new(&spec.path)
                .file_name()
                .map_or(spec.path.clone(), |f| f.to_string_lossy().into_owned()),
            e.len()
        ));
        examples.extend(e);
    }
    if examples.is_empty() {
        return Err(Failure::new(FailureKind::Input, "no labelled examples to learn from").into());
    }
    let learned = learn::train(engine, &examples, &TrainOptions::default());
    let provenance = format!(
        "Polarity weights learned by xinqing from: {}\nReproduce with: {command_line}\n\
         Logistic regression over the engine's rule-modified terms (see src/engine/learn.rs), \
         the mean of {} runs over the texts in different orders; nouns, numerals, time, place and \
         measure words (jieba's tags) penalised more, since they say what a text is about; a \
         negator's own weight, alone or after the word before it, never positive.",
        sources.join(", "),
        TrainOptions::default().runs
    );
    let n = learned.weights.len() + learned.pairs.len();
    std::fs::write(out, learn::render(&learned, &provenance))
        .with_context(|| format!("cannot write {}", out.display()))?;
    engine.set_learned(learned);
    Ok(n)
}

/// Writes the segmenter's dictionary from jieba's (`segmenter::prune`), with a header that
/// names the source and the command; returns the words kept and read.
pub fn prune_segmenter(
    engine: &Engine,
    jieba_dict: &Path,
    min_freq: u64,
    out: &Path,
    command_line: &str,
) -> Result<(usize, usize)> {
    let text = std::fs::read_to_string(jieba_dict)
        .with_context(|| format!("cannot read {}", jieba_dict.display()))?;
    let keep: rustc_hash::FxHashSet<&str> = engine.curated_words().collect();
    let pruned = segmenter::prune(&text, min_freq, &keep)
        .with_context(|| format!("in {}", jieba_dict.display()))?;
    let header = format!(
        "# The segmenter's dictionary: jieba's dict.txt (jieba-rs 0.11, MIT) less its rare words.\n\
         # Kept {} of {} words: frequency {min_freq} or more, single characters, and the words the\n\
         # curated dictionaries name. `word freq` per line; an empty file means jieba's full dictionary.\n\
         # Reproduce with: {command_line}\n",
        pruned.kept, pruned.total
    );
    std::fs::write(out, header + &pruned.body)
        .with_context(|| format!("cannot write {}", out.display()))?;
    Ok((pruned.kept, pruned.total))
}

/// One side of the benchmark run alone (`bench-engine --only`), for a profiler that counts
/// what one pass over the texts costs: `benches/instructions.sh` counts its instructions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BenchPart {
    /// The bare jieba-rs cut (HMM on, its own dictionary).
    Cut,
    /// The engine's whole analysis.
    Engine,
    /// The engine's reading alone: normalise, segment, look each token up, walk the clauses and
    /// mark the inquiries.
    /// Every analysis needs it before crisis, emotions, topics, keywords and explanations, so
    /// it is the least the engine can cost.
    Read,
}

/// `part` over the texts: one pass to warm it (pages, caches, the regexes' lazy automata), then
/// `rounds` passes in `measured_passes`, which a profiler can count alone. Returns the seconds
/// a measured pass took.
pub fn bench_part(engine: &Engine, texts: &[String], rounds: usize, part: BenchPart) -> f64 {
    let jieba = (part == BenchPart::Cut).then(jieba_rs::Jieba::new);
    let pass = |t: &str| match (&jieba, part) {
        (Some(j), _) => j.cut(t, true).len(),
        (None, BenchPart::Read) => engine.bench_stage(t, 2),
        (None, _) => engine.analyze(t).terms.len(),
    };
    for t in texts {
        std::hint::black_box(pass(t));
    }
    let start = std::time::Instant::now();
    measured_passes(texts, rounds.max(1), &pass);
    start.elapsed().as_secs_f64() / rounds.max(1) as f64
}

/// `rounds` passes of `pass` over the texts: every timed pass of the benchmark, and the one
/// function `benches/instructions.sh` counts.
#[inline(never)]
fn measured_passes(texts: &[String], rounds: usize, pass: &dyn Fn(&str) -> usize) {
    for _ in 0..rounds {
        for t in texts {
            std::hint::black_box(pass(t));
        }
    }
}

/// In-process throughput of the engine beside a bare jieba-rs cut of the same texts (HMM on),
/// on one thread and on `threads`. Printed as MB/s and texts/s.
pub fn bench_engine(
    engine: &Engine,
    texts: &[String],
    rounds: usize,
    threads: usize,
) -> Result<String> {
    let (rounds, threads) = (rounds.max(1), threads.max(1));
    let bytes: usize = texts.iter().map(String::len).sum::<usize>() * rounds;
    let n = texts.len() * rounds;
    let jieba = jieba_rs::Jieba::new();
    let time = |f: &dyn Fn()| {
        let t = std::time::Instant::now();
        f();
        t.elapsed().as_secs_f64()
    };
    // Warm up both (page in dictionaries, fill caches).
    for t in texts.iter().take(200) {
        std::hint::black_box(jieba.cut(t, true));
        std::hint::black_box(engine.analyze(t));
    }
    // The cut and the engine take turns, one pass over the texts each per round: this machine's
    // speed drifts, and a ratio of two neighbouring passes is steadier than one of two long runs.
    let (mut cut, mut one) = (0.0, 0.0);
    let mut ratios = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let c = time(&|| measured_passes(texts, 1, &|t| jieba.cut(t, true).len()));
        let e = time(&|| measured_passes(texts, 1, &|t| engine.analyze(t).terms.len()));
        cut += c;
        one += e;
        ratios.push(e / c);
    }
    ratios.sort_by(f64::total_cmp);
    let many = time(&|| {
        let chunk = texts.len().div_ceil(threads);
        std::thread::scope(|scope| {
            for part in texts.chunks(chunk) {
                scope.spawn(move || {
                    measured_passes(part, rounds, &|t| engine.analyze(t).terms.len())
                });
            }
        });
    });
    // Where the engine's time goes: each stage includes the ones before it (the last is the
    // whole analysis). The stages take turns, one pass each per round, and each keeps its
    // fastest pass: single long runs of each drifted with the machine by more than a stage.
    let mut stages = [f64::INFINITY; 5];
    for _ in 0..rounds {
        for (stage, fastest) in stages.iter_mut().enumerate() {
            let secs = time(&|| measured_passes(texts, 1, &|t| engine.bench_stage(t, stage as u8)));
            *fastest = fastest.min(secs);
        }
    }
    let mb = bytes as f64 / 1e6;
    let line = |name: &str, secs: f64| {
        format!(
            "{name:<34} {secs:>7.2} s {:>8.1} MB/s {:>9.0} texts/s\n",
            mb / secs,
            n as f64 / secs
        )
    };
    let mut out = format!("{n} texts, {mb:.1} MB of UTF-8\n");
    out.push_str(&line("jieba-rs cut (HMM), 1 thread", cut));
    out.push_str(&line("engine analyze, 1 thread", one));
    out.push_str(&line(&format!("engine analyze, {threads} threads"), many));
    out.push_str(&format!(
        "engine / cut time: {:.2}× (median of {rounds} paired rounds, {:.2}–{:.2}×); {threads}-thread speed-up {:.2}×\n",
        ratios[ratios.len() / 2],
        ratios[0],
        ratios[ratios.len() - 1],
        one / many
    ));
    out.push_str(&format!(
        "stages (1 thread, cumulative, fastest of {rounds} passes over the texts): normalise {:.3} s, + segment {:.3} s, + look-up and walk {:.3} s, + crisis {:.3} s, full {:.3} s\n",
        stages[0], stages[1], stages[2], stages[3], stages[4]
    ));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::crisis::Risk;
    use crate::engine::TermEffect;

    /// The line as serde_json writes the same fields: the reference the hand-written line
    /// must match byte for byte.
    #[derive(serde::Serialize)]
    struct ScoredRow<'a> {
        id: &'a str,
        polarity: &'static str,
        score: f64,
        emotion: Option<&'static str>,
        emotions: SevenScores<'a>,
        risk: &'static str,
        risk_terms: &'a [String],
        topics: &'a [&'static str],
        keywords: &'a [compact_str::CompactString],
        terms: Vec<TermRow<'a>>,
    }

    fn by_serde(id: &str, a: &Analysis) -> String {
        let row = ScoredRow {
            id,
            polarity: a.polarity.name(),
            score: r3(a.score),
            emotion: a.emotion,
            emotions: SevenScores(&a.emotions),
            risk: a.risk.name(),
            risk_terms: &a.risk_terms,
            topics: &a.topics,
            keywords: &a.keywords,
            terms: term_rows(a),
        };
        serde_json::to_string(&row).unwrap() + "\n"
    }

    #[test]
    fn numbers_are_written_as_serde_json_writes_them() {
        let mut values: Vec<f32> = (-30_000..=30_000).map(|m| m as f32 / 1000.0).collect();
        values.extend((-3000..=3000).map(|m| m as f32 / 1000.0 + 0.0004));
        values.extend([
            0.0,
            -0.0,
            0.0004,
            -0.0004,
            0.0005,
            -0.0005,
            0.9995,
            -0.9995,
            1e7,
            -12_345.678,
            3.0e11,
            1.0e20,
            -1.0e30,
            f32::MAX,
            f32::MIN_POSITIVE,
            f32::NAN,
            f32::INFINITY,
        ]);
        for x in values {
            let mut ours = Vec::new();
            json_milli(&mut ours, x);
            let theirs = serde_json::to_string(&r3(x)).unwrap();
            assert_eq!(String::from_utf8(ours).unwrap(), theirs, "{x:e}");
        }
    }

    #[test]
    fn score_lines_match_serde_json_byte_for_byte() {
        let engine = Engine::embedded().unwrap();
        let texts = [
            "房间很大，但是隔音太差了！！再也不会来了[怒]",
            "感谢社区网格员和志愿者，辛苦了[心][心]",
            "我不想活了，药已经买好了，今晚就吃",
            "",
            "😀😀😀 \u{1}\u{7f} \"quoted\" back\\slash\ttab",
            "核酸检测排队三个小时，封控区物资送不进来，孩子网课也上不了，焦虑失眠",
        ];
        for (i, text) in texts.iter().enumerate() {
            let a = engine.analyze(text);
            let id = format!("row \"{i}\"\\\u{2028}");
            assert_eq!(
                String::from_utf8(analysis_json_line(&id, &a)).unwrap(),
                by_serde(&id, &a),
                "{text}"
            );
        }
        // Every field at once, with strings that need escaping and numbers of every shape.
        let a = Analysis {
            polarity: Polarity::Negative,
            score: -0.0002,
            emotion: Some("惧"),
            emotions: [0.0, 1.0, 0.5, 0.125, 12.3456, -0.0, 99.9999],
            risk: Risk::Imminent,
            risk_terms: vec!["今晚\"就\"".into(), "\n".into()],
            topics: vec!["mental_state", "testing"],
            keywords: vec!["a\\b".into(), "焦虑".into()],
            terms: vec![
                TermEffect {
                    term: "不 好".into(),
                    weight: -1.2345,
                    rule: "negated".into(),
                },
                TermEffect {
                    term: "\u{0}".into(),
                    weight: 1e9,
                    rule: std::borrow::Cow::Owned("intensified ×1.8".into()),
                },
            ],
        };
        assert_eq!(
            String::from_utf8(analysis_json_line("", &a)).unwrap(),
            by_serde("", &a)
        );
    }
}
