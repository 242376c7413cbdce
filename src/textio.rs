//! Reading texts for `score`, `segment`, `eval` and `train`: a CSV (UTF-8 or GB18030), JSONL or
//! spreadsheet file, or `-` for standard input, with columns named on the command line.

use crate::error::{Failure, FailureKind};
use crate::ingest::read::{self, RawRow};
use anyhow::{Context, Result};
use std::io::Read;
use std::path::{Path, PathBuf};

/// Rows of an input with its headers (tabular formats) so that columns can be found by name.
pub struct Input {
    headers: Option<Vec<String>>,
    pub rows: Box<dyn Iterator<Item = Result<RawRow>> + Send>,
    // Standard input is spooled to a file that lives as long as the reader.
    _spool: Option<Spool>,
}

struct Spool(PathBuf);

impl Drop for Spool {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

impl Input {
    pub fn open(input: &str) -> Result<Input> {
        let input_failure = |e: anyhow::Error| {
            anyhow::Error::new(Failure::new(FailureKind::Input, format!("{e:#}")))
        };
        let (path, spool) = if input == "-" {
            let mut bytes = Vec::new();
            std::io::stdin()
                .read_to_end(&mut bytes)
                .context("reading standard input")?;
            let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
            let ext = if first == Some(&b'{') { "jsonl" } else { "csv" };
            let path = std::env::temp_dir().join(format!(
                "xinqing-stdin-{}-{}.{ext}",
                std::process::id(),
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos())
            ));
            std::fs::write(&path, &bytes).context("spooling standard input")?;
            (path.clone(), Some(Spool(path)))
        } else {
            (PathBuf::from(input), None)
        };
        let opened = read::open(Path::new(&path), None).map_err(input_failure)?;
        Ok(Input {
            headers: opened.headers,
            rows: opened.rows,
            _spool: spool,
        })
    }

    /// The rows, taken out so that cells can still be looked up while iterating.
    pub fn take_rows(&mut self) -> Box<dyn Iterator<Item = Result<RawRow>> + Send> {
        std::mem::replace(&mut self.rows, Box::new(std::iter::empty()))
    }

    /// Checks that a named column exists in a tabular input.
    pub fn require(&self, column: &str) -> Result<()> {
        if let Some(h) = &self.headers {
            if !h.iter().any(|x| x == column) {
                return Err(Failure::new(
                    FailureKind::Input,
                    format!("no column '{column}' (columns: {})", h.join(", ")),
                )
                .into());
            }
        }
        Ok(())
    }

    /// A named cell of a row.
    pub fn cell<'r>(&self, row: &'r RawRow, column: &str) -> Option<&'r str> {
        cell(self.headers.as_deref(), row, column)
    }

    /// The headers, to look cells up on another thread.
    pub fn headers(&self) -> Option<Vec<String>> {
        self.headers.clone()
    }
}

/// A named cell of a row: by the row's own keys (JSONL), else by the file's headers.
pub fn cell<'r>(headers: Option<&[String]>, row: &'r RawRow, column: &str) -> Option<&'r str> {
    let keys = row.keys.as_deref().or(headers)?;
    let index = keys.iter().position(|k| k == column)?;
    row.cells.get(index).map(String::as_str)
}

/// Which labels a file uses, with the same polarity convention as ../shared/bench/peers.py.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LabelScheme {
    /// 1 or positive, 0 or negative (ChnSentiCorp); `neutral` for a text that judges nothing
    /// (which peers.py leaves out, as it does SMP2020's).
    Binary,
    /// happy → positive; angry, sad, fear → negative; neural → neutral; surprise → no polarity
    /// (SMP2020-EWECT).
    Smp2020,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gold {
    Positive,
    Negative,
    Neutral,
    NoPolarity,
}

impl LabelScheme {
    pub fn polarity(self, label: &str) -> Option<Gold> {
        Some(match (self, label.trim().to_ascii_lowercase().as_str()) {
            (LabelScheme::Binary, "1" | "positive") => Gold::Positive,
            (LabelScheme::Binary, "0" | "negative") => Gold::Negative,
            (LabelScheme::Binary, "neutral") => Gold::Neutral,
            (LabelScheme::Smp2020, "happy") => Gold::Positive,
            (LabelScheme::Smp2020, "angry" | "sad" | "fear") => Gold::Negative,
            (LabelScheme::Smp2020, "neural" | "neutral") => Gold::Neutral,
            (LabelScheme::Smp2020, "surprise") => Gold::NoPolarity,
            _ => return None,
        })
    }

    /// The labels the scheme reads, as an error names them.
    fn known(self) -> &'static str {
        match self {
            LabelScheme::Binary => "1 or positive, 0 or negative, neutral",
            LabelScheme::Smp2020 => "happy, angry, sad, fear, surprise, neural or neutral",
        }
    }

    /// An error naming the first row whose label the scheme does not read, if one does not: such
    /// rows were once left out without a word, and a file labelled `positive` was read as empty.
    pub fn check(self, rows: &[Labelled]) -> Result<()> {
        let unread: Vec<&Labelled> = rows
            .iter()
            .filter(|r| self.polarity(&r.label).is_none())
            .collect();
        let Some(first) = unread.first() else {
            return Ok(());
        };
        let scheme = clap::ValueEnum::to_possible_value(&self)
            .map_or_else(String::new, |v| v.get_name().to_string());
        let message = format!(
            "line {}: label '{}' is not one that --labels {scheme} reads ({}); \
             {} of {} rows have such a label",
            first.line,
            first.label,
            self.known(),
            unread.len(),
            rows.len()
        );
        Err(Failure::new(FailureKind::Input, message).into())
    }

    /// The DUTIR class an SMP2020 label stands for (`Some(None)`: no emotion).
    pub fn emotion(self, label: &str) -> Option<Option<&'static str>> {
        match (self, label.trim()) {
            (LabelScheme::Smp2020, "happy") => Some(Some("乐")),
            (LabelScheme::Smp2020, "angry") => Some(Some("怒")),
            (LabelScheme::Smp2020, "sad") => Some(Some("哀")),
            (LabelScheme::Smp2020, "fear") => Some(Some("惧")),
            (LabelScheme::Smp2020, "surprise") => Some(Some("惊")),
            (LabelScheme::Smp2020, "neural" | "neutral") => Some(None),
            _ => None,
        }
    }
}

/// A labelled text.
#[derive(Debug, Clone)]
pub struct Labelled {
    pub text: String,
    pub label: String,
    /// Where it is in its file (the line of a CSV record's start, or of a JSON line).
    pub line: u64,
}

/// Every row of a labelled file that has a text and a label.
pub fn read_labelled(input: &str, text_column: &str, label_column: &str) -> Result<Vec<Labelled>> {
    let mut file = Input::open(input)?;
    file.require(text_column)?;
    file.require(label_column)?;
    let mut out = Vec::new();
    for row in file.take_rows() {
        let row = row?;
        if row.problem.is_some() {
            continue;
        }
        if let (Some(text), Some(label)) =
            (file.cell(&row, text_column), file.cell(&row, label_column))
        {
            // A row without a text or a label is no example.
            if !text.trim().is_empty() && !label.trim().is_empty() {
                out.push(Labelled {
                    text: text.to_string(),
                    label: label.to_string(),
                    line: row.line,
                });
            }
        }
    }
    Ok(out)
}

/// Every non-empty text of a column.
pub fn read_texts(input: &str, text_column: &str) -> Result<Vec<String>> {
    let mut file = Input::open(input)?;
    file.require(text_column)?;
    let mut out = Vec::new();
    for row in file.take_rows() {
        let row = row?;
        if let Some(t) = file
            .cell(&row, text_column)
            .filter(|t| !t.trim().is_empty())
        {
            out.push(t.to_string());
        }
    }
    Ok(out)
}

/// `FILE:TEXT_COLUMN:LABEL_COLUMN:SCHEME`, as `train --data` and `eval --train-also` take it.
#[derive(Debug, Clone)]
pub struct DataSpec {
    pub path: String,
    pub text_column: String,
    pub label_column: String,
    pub labels: LabelScheme,
}

impl std::str::FromStr for DataSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = s.rsplitn(4, ':').collect();
        let [scheme, label, text, path] = parts[..] else {
            return Err(format!(
                "'{s}': expected FILE:TEXT_COLUMN:LABEL_COLUMN:binary|smp2020"
            ));
        };
        let labels = match scheme {
            "binary" => LabelScheme::Binary,
            "smp2020" => LabelScheme::Smp2020,
            other => return Err(format!("'{other}': labels are binary or smp2020")),
        };
        Ok(DataSpec {
            path: path.to_string(),
            text_column: text.to_string(),
            label_column: label.to_string(),
            labels,
        })
    }
}
