//! Ingest: export files (and HTTP pages) → validated, redacted rows → the store, one
//! transaction per file.
//!
//! Rows are validated and redacted as they stream in and appended to a staging table; one
//! set-based merge then inserts new records and updates changed ones. A field left empty in a
//! later export never erases a stored value (exports differ in which columns they carry), and a
//! record that comes again unchanged is counted, not rewritten. The ledger remembers each file
//! by its SHA-256, so the same file given twice is skipped whole.

pub mod mapping;
pub mod read;

use crate::engine::Engine;
use crate::error::{Failure, FailureKind};
use crate::redact::{Pseudonymizer, Redactor};
use crate::schema::{fold, ColType, Kind, ENGINE_COLUMNS};
use crate::timefmt;
use anyhow::{Context, Result};
use duckdb::types::Value;
use duckdb::{params, Transaction};
use mapping::Mapping;
use read::RawRow;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

/// What ingest needs besides the store: the redactor, the pseudonym key and an optional mapping.
pub struct Validator<'a> {
    kind: Kind,
    redactor: &'a Redactor,
    pseudonyms: Option<&'a Pseudonymizer>,
    mapping: Option<&'a Mapping>,
    /// Scores text-bearing rows as they are stored, with the time written to `scored_at`.
    engine: Option<(&'a Engine, String)>,
}

/// Why a row was rejected: `category` groups rejects in summaries, `reason` is the full text.
#[derive(Debug, Clone)]
pub struct RowError {
    pub category: String,
    pub reason: String,
}

impl RowError {
    fn new(category: impl Into<String>, detail: impl std::fmt::Display) -> RowError {
        let category = category.into();
        RowError {
            reason: format!("{category}: {detail}"),
            category,
        }
    }
}

/// What becomes of one row.
type Outcome = Result<Vec<Value>, Reject>;

/// A rejected row as stored: line, reason and the redacted raw row.
#[derive(Debug, Clone)]
pub struct Reject {
    pub line: u64,
    pub error: RowError,
    pub raw: String,
}

/// A source row resolved to canonical columns.
pub struct Resolved<'r> {
    pub line: u64,
    pub cells: Vec<Option<&'r str>>,
}

const NO_WORDS: [&str; 8] = ["否", "无", "未转介", "不需要", "no", "n", "false", "0"];
const YES_WORDS: [&str; 7] = ["是", "有", "已转介", "yes", "y", "true", "1"];
const ID_KEYS: [&str; 7] = [
    "author",
    "留言人",
    "作者",
    "昵称",
    "counselor_id",
    "咨询师工号",
    "坐席工号",
];

impl<'a> Validator<'a> {
    pub fn new(
        kind: Kind,
        redactor: &'a Redactor,
        pseudonyms: Option<&'a Pseudonymizer>,
        mapping: Option<&'a Mapping>,
    ) -> Self {
        Validator {
            kind,
            redactor,
            pseudonyms,
            mapping,
            engine: None,
        }
    }

    /// Scores the text column of each row with the engine (kinds without text are unaffected).
    pub fn with_engine(mut self, engine: &'a Engine) -> Self {
        if self.kind.text_column().is_some() {
            self.engine = Some((engine, timefmt::now_text()));
        }
        self
    }

    pub fn scores(&self) -> bool {
        self.engine.is_some()
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The canonical column a header or JSON key stands for (`None`: not ours, or ignored).
    pub fn column_for(&self, header: &str) -> Option<usize> {
        if let Some(m) = self.mapping.and_then(|m| m.column(header)) {
            return m;
        }
        crate::schema::column_for_header(self.kind, header)
    }

    /// Lines a source's headers up with canonical columns; the first header naming a column wins.
    pub fn positions(&self, headers: &[String]) -> (Vec<Option<usize>>, Vec<String>) {
        let mut seen = vec![false; self.kind.columns().len()];
        let mut ignored = Vec::new();
        let positions = headers
            .iter()
            .map(|h| match self.column_for(h) {
                Some(i) if !seen[i] => {
                    seen[i] = true;
                    Some(i)
                }
                _ => {
                    if !h.is_empty() {
                        ignored.push(h.clone());
                    }
                    None
                }
            })
            .collect();
        (positions, ignored)
    }

    /// Required columns that no header provides, as "name (中文)".
    pub fn missing_required(&self, positions: &[Option<usize>]) -> Vec<String> {
        self.kind
            .columns()
            .iter()
            .enumerate()
            .filter(|(i, c)| c.required && !positions.contains(&Some(*i)))
            .map(|(_, c)| format!("{} ({})", c.name, c.aliases[0]))
            .collect()
    }

    pub fn resolve<'r>(&self, row: &'r RawRow, positions: &[Option<usize>]) -> Resolved<'r> {
        let mut cells = vec![None; self.kind.columns().len()];
        let mut put = |column: Option<usize>, cell: &'r String| {
            if let Some(i) = column {
                let v = cell.trim();
                if !v.is_empty() && cells[i].is_none() {
                    cells[i] = Some(v);
                }
            }
        };
        match &row.keys {
            Some(keys) => {
                for (key, cell) in keys.iter().zip(&row.cells) {
                    put(self.column_for(key), cell);
                }
            }
            None => {
                for (pos, cell) in row.cells.iter().enumerate() {
                    put(positions.get(pos).copied().flatten(), cell);
                }
            }
        }
        Resolved {
            line: row.line,
            cells,
        }
    }

    /// The staged values of a row (canonical column order, the screening key first), or why
    /// it cannot be stored.
    pub fn validate(&self, row: &Resolved<'_>) -> Result<Vec<Value>, RowError> {
        let columns = self.kind.columns();
        let mut values = Vec::with_capacity(columns.len() + 1);
        for (i, column) in columns.iter().enumerate() {
            let Some(raw) = row.cells[i] else {
                if column.required {
                    return Err(RowError::new(
                        format!("missing {}", column.name),
                        format!(
                            "required field {} ({}) is empty",
                            column.name, column.aliases[0]
                        ),
                    ));
                }
                values.push(Value::Null);
                continue;
            };
            let bad = |detail: String| RowError::new(format!("bad {}", column.name), detail);
            let value = match column.ty {
                ColType::Id => Value::Text(raw.to_string()),
                ColType::Text | ColType::Label => {
                    Value::Text(self.redactor.redact(raw).into_owned())
                }
                ColType::Timestamp => Value::Text(timefmt::store_text(
                    timefmt::parse_datetime(raw).map_err(bad)?,
                )),
                ColType::Date => Value::Text(
                    timefmt::parse_date(raw)
                        .map_err(bad)?
                        .format("%Y-%m-%d")
                        .to_string(),
                ),
                ColType::Int { min, max } => {
                    let n = parse_int(raw)
                        .ok_or_else(|| bad(format!("not a whole number: '{raw}'")))?;
                    if !(min..=max).contains(&n) {
                        return Err(bad(format!("{n} is outside {min}–{max}")));
                    }
                    Value::BigInt(n)
                }
                ColType::Code(vocabulary) => {
                    let code = self
                        .mapping
                        .and_then(|m| m.value(i, raw))
                        .or_else(|| vocabulary.lookup(raw))
                        .ok_or_else(|| {
                            RowError::new(
                                format!("unknown {}", column.name),
                                format!(
                                    "'{raw}' is not a known {} (codes: {}; add spellings with a mapping file)",
                                    column.name,
                                    vocabulary.code_list()
                                ),
                            )
                        })?;
                    Value::Text(code.to_string())
                }
                ColType::Pseudonym(prefix) => {
                    let p = self.pseudonyms.ok_or_else(|| {
                        RowError::new("no pseudonym key", "cannot store an identity without a key")
                    })?;
                    Value::Text(p.pseudonym(prefix, raw))
                }
                ColType::Referral => {
                    let f = fold(raw);
                    if NO_WORDS.iter().any(|w| fold(w) == f) {
                        Value::Text("no".into())
                    } else if YES_WORDS.iter().any(|w| fold(w) == f) {
                        Value::Text("yes".into())
                    } else {
                        Value::Text(self.redactor.redact(raw).into_owned())
                    }
                }
            };
            values.push(value);
        }
        self.check_record(&mut values)?;
        if let (Some((engine, scored_at)), Some(column)) = (&self.engine, self.kind.text_column()) {
            let text = match &values[self.kind.column_index(column).expect("text column")] {
                Value::Text(t) => Some(t.as_str()),
                _ => None,
            };
            values.extend(engine_values(engine, text, scored_at));
        }
        if self.kind == Kind::Screening {
            values.insert(0, Value::Text(screening_key(&values)));
        }
        Ok(values)
    }

    /// Checks across fields, and the status a hotline record implies when it has none.
    fn check_record(&self, values: &mut [Value]) -> Result<(), RowError> {
        let kind = self.kind;
        let idx = |name: &str| kind.column_index(name).expect("known column");
        fn text(values: &[Value], index: usize) -> Option<&str> {
            match &values[index] {
                Value::Text(s) => Some(s.as_str()),
                _ => None,
            }
        }
        let int = |values: &[Value], name: &str| match values[idx(name)] {
            Value::BigInt(n) => Some(n),
            _ => None,
        };
        // Store formats sort as text, so comparing the strings compares the times.
        let not_before = |values: &[Value], later: &str, earlier: &str| -> Result<(), RowError> {
            if let (Some(l), Some(e)) = (text(values, idx(later)), text(values, idx(earlier))) {
                if l < e {
                    return Err(RowError::new(
                        format!("{later} before {earlier}"),
                        format!("{later} {l} is earlier than {earlier} {e}"),
                    ));
                }
            }
            Ok(())
        };
        match kind {
            Kind::Hotline => {
                not_before(values, "answered_at", "started_at")?;
                not_before(values, "ended_at", "started_at")?;
                if values[idx("status")] == Value::Null {
                    let inferred = if text(values, idx("answered_at")).is_some() {
                        "answered"
                    } else {
                        "abandoned"
                    };
                    values[idx("status")] = Value::Text(inferred.into());
                }
            }
            Kind::Feedback => not_before(values, "replied_at", "received_at")?,
            Kind::Screening => {
                not_before(values, "period_end", "period_start")?;
                let screened = int(values, "screened").unwrap_or(0);
                let positive = int(values, "positive").unwrap_or(0);
                if positive > screened {
                    return Err(RowError::new(
                        "positive above screened",
                        format!("positive {positive} is more than screened {screened}"),
                    ));
                }
                let graded: i64 = ["mild", "moderate", "severe"]
                    .iter()
                    .filter_map(|c| int(values, c))
                    .sum();
                if graded > screened {
                    return Err(RowError::new(
                        "grades above screened",
                        format!(
                            "mild + moderate + severe = {graded} is more than screened {screened}"
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// A row's staged values, or the reject it becomes.
    pub fn outcome(&self, row: &RawRow, positions: &[Option<usize>]) -> Result<Vec<Value>, Reject> {
        let result = match &row.problem {
            Some(problem) => Err(RowError {
                category: problem.split(':').next().unwrap_or(problem).to_string(),
                reason: problem.clone(),
            }),
            None => self.validate(&self.resolve(row, positions)),
        };
        result.map_err(|error| Reject {
            line: row.line,
            raw: self.sanitise_raw(row, positions),
            error,
        })
    }

    /// Validates one row and stages it, or records it as a reject.
    pub fn take_row(
        &self,
        merge: &mut Merge<'_>,
        rejects: &mut Vec<Reject>,
        row: &RawRow,
        positions: &[Option<usize>],
    ) -> Result<()> {
        match self.outcome(row, positions) {
            Ok(values) => merge.stage(row.line, &values)?,
            Err(reject) => rejects.push(reject),
        }
        Ok(())
    }

    /// A bad row as it may be stored: identities pseudonymised, free text redacted.
    pub fn sanitise_raw(&self, row: &RawRow, positions: &[Option<usize>]) -> String {
        let columns = self.kind.columns();
        let cells: Vec<String> = row
            .cells
            .iter()
            .enumerate()
            .map(|(pos, cell)| {
                let column = match &row.keys {
                    Some(keys) => keys.get(pos).and_then(|k| self.column_for(k)),
                    None => positions.get(pos).copied().flatten(),
                };
                match column.map(|i| columns[i].ty) {
                    Some(ColType::Pseudonym(prefix)) if !cell.trim().is_empty() => self
                        .pseudonyms
                        .map_or_else(|| "〔已去标识〕".to_string(), |p| p.pseudonym(prefix, cell)),
                    _ => self.redactor.redact(cell).into_owned(),
                }
            })
            .collect();
        let mut raw = match &row.keys {
            Some(keys) => keys
                .iter()
                .zip(&cells)
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(", "),
            None => cells.join(","),
        };
        if row.keys.is_none() && row.problem.is_some() && row.cells.len() == 1 {
            // An unparsable JSON line: blank the values of identity keys by pattern.
            raw = blank_identity_values(&raw);
        }
        raw.chars().take(2000).collect()
    }
}

/// The engine's columns of a row: scores of the (already redacted) text, or nulls without text.
pub(crate) fn engine_values(engine: &Engine, text: Option<&str>, scored_at: &str) -> Vec<Value> {
    let Some(text) = text else {
        return vec![Value::Null; ENGINE_COLUMNS.len()];
    };
    // Ingest stores no explanations or keywords, so it skips them.
    let a = engine.analyze_brief(text);
    vec![
        Value::Text(a.polarity.name().into()),
        Value::Double((a.score as f64 * 1000.0).round() / 1000.0),
        a.emotion.map_or(Value::Null, |e| Value::Text(e.into())),
        Value::Text(a.risk.name().into()),
        Value::Text(a.risk_terms.join("|")),
        Value::Text(a.topics.join("|")),
        Value::Text(scored_at.to_string()),
    ]
}

/// How an engine column is staged (lists as `a|b` text, times as text) and turned into its
/// stored type; `None` when the staged value is already right.
fn engine_stage(name: &str, stored: &str) -> (&'static str, Option<String>) {
    match stored {
        "DOUBLE" => ("DOUBLE", None),
        "VARCHAR[]" => (
            "VARCHAR",
            Some(format!("string_split(NULLIF({name}, ''), '|') AS {name}")),
        ),
        "TIMESTAMP" => (
            "VARCHAR",
            Some(format!("CAST({name} AS TIMESTAMP) AS {name}")),
        ),
        _ => ("VARCHAR", None),
    }
}

fn blank_identity_values(raw: &str) -> String {
    static RE: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        let keys = ID_KEYS.join("|");
        regex::Regex::new(&format!(r#""({keys})"\s*:\s*"[^"]*""#)).expect("pattern compiles")
    });
    RE.replace_all(raw, "\"$1\":\"〔已去标识〕\"").into_owned()
}

fn parse_int(raw: &str) -> Option<i64> {
    let s = raw.trim().trim_end_matches(['分', '人', '名', '例']);
    s.parse::<i64>().ok().or_else(|| {
        s.parse::<f64>()
            .ok()
            .filter(|f| f.fract() == 0.0 && f.abs() < 1e15)
            .map(|f| f as i64)
    })
}

/// The identity of a screening aggregate: period, region, group, instrument and provider.
fn screening_key(values: &[Value]) -> String {
    let kind = Kind::Screening;
    let mut hasher = Sha256::new();
    for name in [
        "period_start",
        "period_end",
        "region",
        "caller_group",
        "instrument",
        "provider",
    ] {
        if let Value::Text(s) = &values[kind.column_index(name).expect("known column")] {
            hasher.update(s.as_bytes());
        }
        hasher.update([0x1f]);
    }
    hex::encode(&hasher.finalize()[..12])
}

/// Counts of one merge.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct MergeCounts {
    pub read: u64,
    pub inserted: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub duplicate: u64,
    pub rejected: u64,
}

impl std::ops::AddAssign<&MergeCounts> for MergeCounts {
    fn add_assign(&mut self, c: &MergeCounts) {
        self.read += c.read;
        self.inserted += c.inserted;
        self.updated += c.updated;
        self.unchanged += c.unchanged;
        self.duplicate += c.duplicate;
        self.rejected += c.rejected;
    }
}

/// Stages validated rows and merges them into the kind's table inside `tx`.
pub struct Merge<'t> {
    tx: &'t Transaction<'t>,
    kind: Kind,
    appender: Option<duckdb::Appender<'t>>,
    staged: u64,
    scored: bool,
}

// Staging tables are TEMP: in memory, never written to the store file, gone with the
// connection. Their line-number column is `xq_line` because hotline records have a `line`.
const STAGE: &str = "xq_stage";
const STAGE_LAST: &str = "xq_stage_last";

impl<'t> Merge<'t> {
    /// `scored`: rows carry the engine's columns after the record's own.
    pub fn begin(tx: &'t Transaction<'t>, kind: Kind, scored: bool) -> Result<Merge<'t>> {
        let mut ddl = format!("CREATE OR REPLACE TEMP TABLE {STAGE} (xq_line BIGINT NOT NULL");
        if kind == Kind::Screening {
            ddl.push_str(", agg_key VARCHAR");
        }
        for c in kind.columns() {
            let ty = match c.ty {
                ColType::Int { .. } => "BIGINT",
                _ => "VARCHAR",
            };
            ddl.push_str(&format!(", {} {ty}", c.name));
        }
        if scored {
            for (name, stored) in ENGINE_COLUMNS {
                ddl.push_str(&format!(", {name} {}", engine_stage(name, stored).0));
            }
        }
        ddl.push(')');
        tx.execute_batch(&ddl)?;
        let appender = tx.appender_to_catalog_and_db(STAGE, "temp", "main")?;
        Ok(Merge {
            tx,
            kind,
            appender: Some(appender),
            staged: 0,
            scored,
        })
    }

    pub fn stage(&mut self, line: u64, values: &[Value]) -> Result<()> {
        let appender = self.appender.as_mut().expect("staging is open");
        let line = Value::BigInt(line as i64);
        let row = std::iter::once(&line).chain(values);
        appender.append_row(duckdb::appender_params_from_iter(row))?;
        self.staged += 1;
        Ok(())
    }

    /// Merges what was staged; returns inserted, updated, unchanged and duplicate counts.
    pub fn finish(mut self, source_file: &str, now: &str) -> Result<MergeCounts> {
        if let Some(mut appender) = self.appender.take() {
            appender.flush()?;
        }
        let kind = self.kind;
        let table = kind.table();
        let key = kind.key_column();
        let columns = kind.columns();
        let mut casts: Vec<String> = columns
            .iter()
            .filter_map(|c| match c.ty {
                ColType::Timestamp => Some(format!("CAST({0} AS TIMESTAMP) AS {0}", c.name)),
                ColType::Date => Some(format!("CAST({0} AS DATE) AS {0}", c.name)),
                _ => None,
            })
            .collect();
        if self.scored {
            casts.extend(
                ENGINE_COLUMNS
                    .iter()
                    .filter_map(|(name, stored)| engine_stage(name, stored).1),
            );
        }
        let replace = if casts.is_empty() {
            String::new()
        } else {
            format!(" REPLACE ({})", casts.join(", "))
        };
        let clock = std::time::Instant::now();
        // The last occurrence of a key in the file wins.
        self.tx.execute_batch(&format!(
            "CREATE OR REPLACE TEMP TABLE {STAGE_LAST} AS
             SELECT *{replace} FROM {STAGE}
             QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY xq_line DESC) = 1"
        ))?;
        let distinct: i64 =
            self.tx
                .query_row(&format!("SELECT count(*) FROM {STAGE_LAST}"), [], |r| {
                    r.get(0)
                })?;

        tracing::debug!(
            s = clock.elapsed().as_secs_f64(),
            "staged rows deduplicated"
        );
        let data_columns: Vec<&str> = columns
            .iter()
            .map(|c| c.name)
            .filter(|n| *n != key)
            .collect();
        let mut sets: Vec<String> = data_columns
            .iter()
            .map(|c| format!("{c} = coalesce(s.{c}, t.{c})"))
            .collect();
        let engine_columns: Vec<&str> = if self.scored {
            ENGINE_COLUMNS.iter().map(|(name, _)| *name).collect()
        } else {
            Vec::new()
        };
        // Scores are derived: they follow a changed row but never make a row count as changed.
        sets.extend(
            engine_columns
                .iter()
                .map(|c| format!("{c} = coalesce(s.{c}, t.{c})")),
        );
        if !self.scored {
            if let Some(text) = kind.text_column() {
                // Changed text without new scores must be scored again.
                sets.push(format!(
                    "scored_at = CASE WHEN s.{text} IS NOT NULL AND s.{text} IS DISTINCT FROM t.{text} THEN NULL ELSE t.scored_at END"
                ));
            }
        }
        sets.push("source_file = ?".into());
        sets.push("source_line = s.xq_line".into());
        sets.push("updated_at = CAST(? AS TIMESTAMP)".into());
        let changed: Vec<String> = data_columns
            .iter()
            .map(|c| format!("(s.{c} IS NOT NULL AND s.{c} IS DISTINCT FROM t.{c})"))
            .collect();
        let updated = self.tx.execute(
            &format!(
                "UPDATE {table} AS t SET {} FROM {STAGE_LAST} AS s WHERE t.{key} = s.{key} AND ({})",
                sets.join(", "),
                changed.join(" OR ")
            ),
            params![source_file, now],
        )? as u64;

        tracing::debug!(
            s = clock.elapsed().as_secs_f64(),
            updated,
            "changed rows updated"
        );
        let mut all_columns: Vec<&str> = Vec::new();
        if kind == Kind::Screening {
            all_columns.push("agg_key");
        }
        all_columns.extend(columns.iter().map(|c| c.name));
        all_columns.extend(engine_columns.iter().copied());
        let list = all_columns.join(", ");
        let select = all_columns
            .iter()
            .map(|c| format!("s.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let inserted = self.tx.execute(
            &format!(
                "INSERT INTO {table} ({list}, source_file, source_line, first_seen_at, updated_at)
                 SELECT {select}, ?, s.xq_line, CAST(? AS TIMESTAMP), CAST(? AS TIMESTAMP)
                 FROM {STAGE_LAST} AS s ANTI JOIN {table} AS t ON t.{key} = s.{key}"
            ),
            params![source_file, now, now],
        )? as u64;
        tracing::debug!(
            s = clock.elapsed().as_secs_f64(),
            inserted,
            "new rows inserted"
        );
        self.tx
            .execute_batch(&format!("DROP TABLE {STAGE}; DROP TABLE {STAGE_LAST};"))?;
        let distinct = distinct as u64;
        Ok(MergeCounts {
            read: 0,
            inserted,
            updated,
            unchanged: distinct - inserted - updated,
            duplicate: self.staged - distinct,
            rejected: 0,
        })
    }
}

/// Stores rejects; the same line of the same source is stored once however often it is read.
pub fn store_rejects(
    tx: &Transaction<'_>,
    kind: Kind,
    source_file: &str,
    source_sha256: &str,
    rejects: &[Reject],
    now: &str,
) -> Result<()> {
    let mut stmt = tx.prepare(
        "INSERT OR IGNORE INTO rejects (source_sha256, source_file, line, kind, reason, raw, rejected_at)
         VALUES (?, ?, ?, ?, ?, ?, CAST(? AS TIMESTAMP))",
    )?;
    for r in rejects {
        // Reasons quote cell values; they pass the redactor like everything else stored.
        let reason = Redactor.redact(&r.error.reason).into_owned();
        stmt.execute(params![
            source_sha256,
            source_file,
            r.line as i64,
            kind.name(),
            reason,
            r.raw,
            now
        ])?;
    }
    Ok(())
}

/// One ingest of one source (a file, or a page of an HTTP source) for the ledger.
pub struct LedgerEntry<'a> {
    pub kind: Kind,
    pub source_file: &'a str,
    pub sha256: &'a str,
    pub bytes: u64,
    pub format: &'a str,
    pub encoding: Option<&'a str>,
    pub counts: &'a MergeCounts,
    pub started_at: &'a str,
}

pub fn record_ledger(tx: &Transaction<'_>, e: &LedgerEntry<'_>) -> Result<()> {
    let finished = timefmt::now_text();
    let c = e.counts;
    tx.execute(
        "INSERT INTO ingest_ledger (kind, source_file, source_sha256, bytes, format, encoding,
            rows_read, rows_inserted, rows_updated, rows_unchanged, rows_duplicate, rows_rejected,
            started_at, finished_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, CAST(? AS TIMESTAMP), CAST(? AS TIMESTAMP))",
        params![
            e.kind.name(),
            e.source_file,
            e.sha256,
            e.bytes as i64,
            e.format,
            e.encoding,
            c.read as i64,
            c.inserted as i64,
            c.updated as i64,
            c.unchanged as i64,
            c.duplicate as i64,
            c.rejected as i64,
            e.started_at,
            finished
        ],
    )?;
    Ok(())
}

/// The outcome of ingesting one file.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FileReport {
    pub path: String,
    pub kind: Kind,
    pub sha256: String,
    /// Set when this exact file was ingested before (and `--force` was not given).
    pub already_ingested_at: Option<String>,
    pub format: String,
    pub encoding: Option<String>,
    pub counts: MergeCounts,
    /// Reject categories with their count and first few lines.
    pub reject_summary: BTreeMap<String, (u64, Vec<u64>)>,
    pub ignored_columns: Vec<String>,
}

impl FileReport {
    /// A file with rows of which none could be stored is unusable.
    pub fn nothing_usable(&self) -> bool {
        self.already_ingested_at.is_none()
            && self.counts.read > 0
            && self.counts.rejected == self.counts.read
    }
}

#[derive(Default)]
pub struct FileOptions<'a> {
    pub sheet: Option<&'a str>,
    /// Process a file even if the ledger has its hash.
    pub force: bool,
}

pub fn sha256_file(path: &Path) -> Result<(String, u64)> {
    let mut file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = file
            .read(&mut buf)
            .with_context(|| format!("cannot read {}", path.display()))?;
        if n == 0 {
            break;
        }
        total += n as u64;
        hasher.update(&buf[..n]);
    }
    Ok((hex::encode(hasher.finalize()), total))
}

/// Ingests one file in one transaction.
pub fn ingest_file(
    store: &mut crate::store::Store,
    validator: &Validator<'_>,
    path: &Path,
    options: &FileOptions<'_>,
) -> Result<FileReport> {
    let kind = validator.kind();
    let input_failure =
        |e: anyhow::Error| anyhow::Error::new(Failure::new(FailureKind::Input, format!("{e:#}")));
    let (sha256, bytes) = sha256_file(path).map_err(input_failure)?;
    let file_label = path.display().to_string();
    let mut report = FileReport {
        path: file_label.clone(),
        kind,
        sha256: sha256.clone(),
        already_ingested_at: None,
        format: String::new(),
        encoding: None,
        counts: MergeCounts::default(),
        reject_summary: BTreeMap::new(),
        ignored_columns: Vec::new(),
    };
    if !options.force {
        let seen: Option<String> = store.conn().query_row(
            "SELECT CAST(max(finished_at) AS VARCHAR) FROM ingest_ledger WHERE source_sha256 = ? AND kind = ?",
            params![sha256, kind.name()],
            |r| r.get(0),
        )?;
        if seen.is_some() {
            report.already_ingested_at = seen;
            return Ok(report);
        }
    }
    let opened = read::open(path, options.sheet).map_err(input_failure)?;
    report.format = opened.format.name().to_string();
    report.encoding = opened.encoding.map(|e| e.name().to_string());
    let positions = match &opened.headers {
        Some(headers) => {
            let (positions, ignored) = validator.positions(headers);
            let missing = validator.missing_required(&positions);
            if !missing.is_empty() {
                return Err(Failure::new(
                    FailureKind::Input,
                    format!(
                        "{file_label}: no column for {} (headers found: {}); map other headers with --mapping",
                        missing.join(", "),
                        headers.join(", ")
                    ),
                )
                .into());
            }
            report.ignored_columns = ignored;
            positions
        }
        None => Vec::new(),
    };

    let started = timefmt::now_text();
    let clock = std::time::Instant::now();
    let tx = store.conn_mut().transaction()?;
    let mut merge = Merge::begin(&tx, kind, validator.scores())?;
    let mut rejects = Vec::new();
    // A reader thread parses rows, workers validate and score them, and this thread feeds the
    // appender. Each batch of results goes back to the worker that made it to be freed there:
    // glibc's malloc makes frees of another thread's allocations contend on a lock.
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 4);
    const BATCH: usize = 512;
    let (raw_tx, raw_rx) = std::sync::mpsc::sync_channel::<Vec<RawRow>>(workers * 2);
    let raw_rx = std::sync::Mutex::new(raw_rx);
    let read = std::thread::scope(|scope| -> Result<u64> {
        let (done_tx, done_rx) =
            std::sync::mpsc::sync_channel::<(usize, Vec<(u64, Outcome)>)>(workers * 2);
        let rows = opened.rows;
        let reader = scope.spawn(move || -> Result<u64> {
            let mut batch = Vec::with_capacity(BATCH);
            let mut read = 0u64;
            for row in rows {
                batch.push(row?);
                read += 1;
                if batch.len() == BATCH && raw_tx.send(std::mem::take(&mut batch)).is_err() {
                    return Ok(read);
                }
            }
            if !batch.is_empty() {
                let _ = raw_tx.send(batch);
            }
            Ok(read)
        });
        let mut recycle = Vec::new();
        for worker in 0..workers {
            let (back_tx, back_rx) = std::sync::mpsc::channel::<Vec<(u64, Outcome)>>();
            recycle.push(back_tx);
            let (raw_rx, done_tx, positions) = (&raw_rx, done_tx.clone(), &positions);
            scope.spawn(move || loop {
                let Ok(rows) = raw_rx.lock().expect("queue").recv() else {
                    return;
                };
                let out: Vec<(u64, Outcome)> = rows
                    .iter()
                    .map(|row| (row.line, validator.outcome(row, positions)))
                    .collect();
                drop(rows);
                if done_tx.send((worker, out)).is_err() {
                    return;
                }
                while let Ok(done) = back_rx.try_recv() {
                    drop(done);
                }
            });
        }
        drop(done_tx);
        for (worker, mut batch) in done_rx {
            for (line, outcome) in &mut batch {
                match outcome {
                    Ok(values) => merge.stage(*line, values)?,
                    Err(reject) => rejects.push(reject.clone()),
                }
            }
            let _ = recycle[worker].send(batch);
        }
        reader
            .join()
            .map_err(|_| anyhow::anyhow!("the reader thread panicked"))?
            .with_context(|| format!("{file_label}: read failed"))
    })?;
    // Workers finish in any order; rejects are reported by line.
    rejects.sort_by_key(|r| r.line);
    let staged_s = clock.elapsed().as_secs_f64();
    let mut counts = merge.finish(&file_label, &started)?;
    let merged_s = clock.elapsed().as_secs_f64();
    counts.read = read;
    counts.rejected = rejects.len() as u64;
    store_rejects(&tx, kind, &file_label, &sha256, &rejects, &started)?;
    record_ledger(
        &tx,
        &LedgerEntry {
            kind,
            source_file: &file_label,
            sha256: &sha256,
            bytes,
            format: &report.format,
            encoding: report.encoding.as_deref(),
            counts: &counts,
            started_at: &started,
        },
    )?;
    tx.commit()
        .with_context(|| format!("{file_label}: committing"))?;
    tracing::info!(
        file = %file_label,
        rows = read,
        read_and_staged_s = staged_s,
        merged_s = merged_s - staged_s,
        committed_s = clock.elapsed().as_secs_f64() - merged_s,
        "file ingested"
    );
    for r in &rejects {
        let entry = report
            .reject_summary
            .entry(r.error.category.clone())
            .or_insert((0, Vec::new()));
        entry.0 += 1;
        if entry.1.len() < 5 {
            entry.1.push(r.line);
        }
    }
    report.counts = counts;
    Ok(report)
}
