//! One run of a pipeline: its steps in order under an exclusive lock on the store, recorded in
//! the `runs` table with counts per step.

use super::alerts;
use super::config::{AfterIngest, BulletinDay, Pipeline, SourceConfig, Step};
use crate::engine::Engine;
use crate::error::{exit_code, Failure, FailureKind};
use crate::ingest::mapping::Mapping;
use crate::ingest::{ingest_file, FileOptions, MergeCounts, Validator};
use crate::redact::{Pseudonymizer, Redactor};
use crate::schema::Kind;
use crate::store::Store;
use crate::timefmt;
use anyhow::{Context, Result};
use chrono::{Duration, NaiveDate, NaiveDateTime, Utc};
use serde_json::json;
use std::fs::File;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Exit codes of `xinqing run` (documented in the README).
pub mod exit {
    pub const OK: u8 = 0;
    pub const CONFIG: u8 = 2;
    pub const SOURCE_FAILED: u8 = 4;
    pub const LOCKED: u8 = 5;
    pub const REJECTS: u8 = 6;
    pub const INTERRUPTED: u8 = 7;
}

#[derive(Default, Clone)]
pub struct RunOptions {
    /// The day a bulletin reports on, and the day whose end the SLA watch looks from.
    pub date: Option<NaiveDate>,
    /// The scheduled time this run stands for (the scheduler's catch-up runs), local time.
    pub scheduled_for: Option<NaiveDateTime>,
    /// `--db`, which wins over the pipeline's `store`.
    pub db: Option<PathBuf>,
    /// Set by the scheduler on SIGTERM/SIGINT: the run stops after the current file's
    /// transaction and records itself as interrupted.
    pub cancel: Option<Arc<AtomicBool>>,
}

#[derive(Debug)]
pub struct RunOutcome {
    pub run_id: i64,
    pub status: &'static str,
    pub exit_code: u8,
    pub counts: serde_json::Value,
}

/// The store a pipeline writes: `--db`, else its `store` key, else the default.
pub fn store_path(p: &Pipeline, opts: &RunOptions) -> PathBuf {
    opts.db
        .clone()
        .or_else(|| p.config.store.as_ref().map(|s| p.resolve(s)))
        .unwrap_or_else(|| PathBuf::from(crate::store::DEFAULT_PATH))
}

/// The lock file beside the store; a run holds it exclusively, so a second run fails at once.
pub fn lock_store(db: &Path) -> Result<fd_lock::RwLock<File>> {
    if let Some(dir) = db.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let path = PathBuf::from(format!("{}.lock", db.display()));
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open the lock file {}", path.display()))?;
    Ok(fd_lock::RwLock::new(file))
}

fn cancelled(opts: &RunOptions) -> bool {
    opts.cancel
        .as_ref()
        .is_some_and(|c| c.load(Ordering::SeqCst))
}

fn progress(len: u64, what: &str) -> indicatif::ProgressBar {
    // A bar only for a person at a terminal; under cron stderr is a file or nothing.
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg:12} [{bar:30}] {pos}/{len} {wide_msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar.set_message(what.to_string());
    bar
}

/// The run's reference time in the pipeline's time zone.
fn reference_time(p: &Pipeline, opts: &RunOptions) -> NaiveDateTime {
    match (opts.scheduled_for, opts.date) {
        (Some(t), _) => t,
        // With --date the run stands at the end of that day.
        (None, Some(d)) => (d + Duration::days(1))
            .and_hms_opt(0, 0, 0)
            .expect("midnight"),
        (None, None) => Utc::now().with_timezone(&p.offset).naive_local(),
    }
}

pub fn run(p: &Pipeline, opts: &RunOptions, out: &mut dyn Write) -> Result<RunOutcome> {
    // Everything that can be checked is checked before the lock is taken or a row is written.
    let needs_key = p.config.sources.iter().any(|s| match s {
        SourceConfig::Files { kind, .. } => *kind != Kind::Screening,
        SourceConfig::Http { .. } => true,
    });
    let pseudonyms =
        if needs_key {
            Some(Pseudonymizer::from_env().map_err(|e| {
                Failure::new(FailureKind::Config, format!("{}: {e}", p.file.display()))
            })?)
        } else {
            None
        };
    let db = store_path(p, opts);
    let mut lock = lock_store(&db)?;
    let _guard = lock.try_write().map_err(|_| {
        Failure::new(
            FailureKind::Locked,
            format!(
                "another run holds the lock on the store {} ({}.lock); this run did nothing",
                db.display(),
                db.display()
            ),
        )
    })?;
    let mut store = Store::open(&db)?;
    let started = timefmt::now_text();
    let run_id: i64 = store.conn().query_row(
        "INSERT INTO runs (pipeline, pipeline_file, scheduled_for, started_at, status)
         VALUES (?, ?, CAST(? AS TIMESTAMP), CAST(? AS TIMESTAMP), 'running') RETURNING id",
        duckdb::params![
            p.config.name,
            p.file.display().to_string(),
            opts.scheduled_for.map(timefmt::store_text),
            started
        ],
        |r| r.get(0),
    )?;
    tracing::info!(pipeline = %p.config.name, run_id, store = %db.display(), "run started");
    let mut state = RunState {
        counts: serde_json::Map::new(),
        rejected: 0,
        failed_sources: Vec::new(),
        interrupted: false,
    };
    let result = run_steps(
        p,
        opts,
        &mut store,
        run_id,
        &started,
        pseudonyms.as_ref(),
        &mut state,
        out,
    );
    let (status, code, error) = match &result {
        Err(e) => ("failed", exit_code(e).max(1), Some(format!("{e:#}"))),
        Ok(()) if state.interrupted => ("interrupted", exit::INTERRUPTED, None),
        Ok(()) if !state.failed_sources.is_empty() => (
            "source_failed",
            exit::SOURCE_FAILED,
            Some(state.failed_sources.join("; ")),
        ),
        Ok(()) if state.rejected > 0 => ("rejects", exit::REJECTS, None),
        Ok(()) => ("ok", exit::OK, None),
    };
    let counts = serde_json::Value::Object(state.counts);
    store.conn().execute(
        "UPDATE runs SET ended_at = CAST(? AS TIMESTAMP), status = ?, counts = ?, error = ? WHERE id = ?",
        duckdb::params![timefmt::now_text(), status, counts.to_string(), error, run_id],
    )?;
    tracing::info!(pipeline = %p.config.name, run_id, status, "run finished");
    result?;
    Ok(RunOutcome {
        run_id,
        status,
        exit_code: code,
        counts,
    })
}

struct RunState {
    counts: serde_json::Map<String, serde_json::Value>,
    rejected: u64,
    failed_sources: Vec<String>,
    interrupted: bool,
}

#[allow(clippy::too_many_arguments)]
fn run_steps(
    p: &Pipeline,
    opts: &RunOptions,
    store: &mut Store,
    run_id: i64,
    started: &str,
    pseudonyms: Option<&Pseudonymizer>,
    state: &mut RunState,
    out: &mut dyn Write,
) -> Result<()> {
    let needs_engine = p.has(Step::Ingest) || p.has(Step::Score);
    let engine = if needs_engine {
        Some(Engine::load(
            p.config
                .dictionaries
                .as_ref()
                .map(|d| p.resolve(d))
                .as_deref(),
        )?)
    } else {
        None
    };
    let reference = reference_time(p, opts);
    for step in &p.config.steps {
        if cancelled(opts) {
            state.interrupted = true;
            break;
        }
        let counts = match step {
            Step::Ingest => ingest_step(
                p,
                opts,
                store,
                engine.as_ref().expect("engine"),
                pseudonyms,
                state,
                out,
            )?,
            Step::Score => score_step(store, engine.as_ref().expect("engine"))?,
            Step::Alert => {
                let config = p.config.alerts.as_ref().expect("validated");
                // Records stored since this pipeline's last finished run (or in this run).
                let since: Option<String> = store.conn().query_row(
                    "SELECT CAST(max(started_at) AS VARCHAR) FROM runs WHERE pipeline = ? AND id <> ? AND status <> 'running'",
                    duckdb::params![p.config.name, run_id],
                    |r| r.get(0),
                )?;
                let since = since.unwrap_or_else(|| started.to_string());
                let now = timefmt::now_text();
                let raised = alerts::raise(store, config, &since, run_id, &now)?;
                let delivered = alerts::deliver(store, config, &p.base, &now)?;
                writeln!(
                    out,
                    "alerts: {raised} raised; {} delivered, {} pending",
                    delivered.delivered, delivered.pending
                )?;
                json!({"raised": raised, "delivered": delivered.delivered, "pending": delivered.pending})
            }
            Step::Sla => sla_step(p, store, reference, out)?,
            Step::Bulletin => {
                let config = p.config.bulletin.clone();
                let date = opts.date.unwrap_or_else(|| {
                    match config.as_ref().map(|b| b.day).unwrap_or_default() {
                        BulletinDay::Yesterday => reference.date() - Duration::days(1),
                        BulletinDay::Today => reference.date(),
                    }
                });
                let pattern = config
                    .as_ref()
                    .map_or("reports/out/{date}".to_string(), |b| b.out.clone());
                let dir = p.resolve(Path::new(&pattern.replace("{date}", &date.to_string())));
                let templates = config
                    .as_ref()
                    .and_then(|b| b.templates.as_ref())
                    .map(|t| p.resolve(t));
                let dictionaries = p.config.dictionaries.as_ref().map(|d| p.resolve(d));
                let (_, written) = crate::report::bulletin(
                    store.conn(),
                    &crate::report::BulletinOptions {
                        date,
                        out: Some(&dir),
                        templates: templates.as_deref(),
                        dictionaries: dictionaries.as_deref(),
                    },
                )?;
                let html = written.dir.join("bulletin.html");
                writeln!(out, "bulletin for {date}: {}", html.display())?;
                json!({"date": date.to_string(), "path": html.display().to_string()})
            }
        };
        state.counts.insert(step.name().to_string(), counts);
    }
    Ok(())
}

fn move_processed(path: &Path, processed_dir: Option<&Path>) -> Result<PathBuf> {
    let dir = match processed_dir {
        Some(d) => d.to_path_buf(),
        None => path.parent().unwrap_or(Path::new(".")).join("processed"),
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let name = path.file_name().context("a file name")?;
    let mut target = dir.join(name);
    if target.exists() {
        // The same name again (a re-export): keep both.
        target = dir.join(format!(
            "{}.{}",
            name.to_string_lossy(),
            chrono::Local::now().format("%Y%m%d%H%M%S")
        ));
    }
    std::fs::rename(path, &target)
        .with_context(|| format!("cannot move {} to {}", path.display(), target.display()))?;
    Ok(target)
}

fn ingest_step(
    p: &Pipeline,
    opts: &RunOptions,
    store: &mut Store,
    engine: &Engine,
    pseudonyms: Option<&Pseudonymizer>,
    state: &mut RunState,
    out: &mut dyn Write,
) -> Result<serde_json::Value> {
    let mut total = MergeCounts::default();
    let (mut files_read, mut files_skipped) = (0u64, 0u64);
    let mut http_pages = 0u64;
    for (i, source) in p.config.sources.iter().enumerate() {
        match source {
            SourceConfig::Files {
                kind,
                glob,
                mapping,
                sheet,
                after,
                processed_dir,
            } => {
                let mapping = mapping
                    .as_ref()
                    .map(|m| Mapping::load(&p.resolve(m), *kind))
                    .transpose()?;
                let mut validator = Validator::new(*kind, &Redactor, pseudonyms, mapping.as_ref());
                if kind.text_column().is_some() {
                    validator = validator.with_engine(engine);
                }
                let pattern = p.resolve(Path::new(glob));
                let processed = processed_dir.as_ref().map(|d| p.resolve(d));
                let mut files: Vec<PathBuf> = glob::glob(&pattern.to_string_lossy())
                    .with_context(|| format!("sources[{i}].glob"))?
                    .filter_map(|r| r.ok())
                    .filter(|f| f.is_file())
                    .collect();
                files.sort();
                let bar = progress(files.len() as u64, kind.name());
                for file in files {
                    if cancelled(opts) {
                        state.interrupted = true;
                        break;
                    }
                    bar.set_message(format!("{kind}"));
                    match ingest_file(
                        store,
                        &validator,
                        &file,
                        &FileOptions {
                            sheet: sheet.as_deref(),
                            force: false,
                        },
                    ) {
                        Ok(report) => {
                            let c = &report.counts;
                            if report.already_ingested_at.is_some() {
                                files_skipped += 1;
                            } else {
                                files_read += 1;
                                writeln!(
                                    out,
                                    "{}: read {}, new {}, updated {}, unchanged {}, rejected {}",
                                    file.display(),
                                    c.read,
                                    c.inserted,
                                    c.updated,
                                    c.unchanged,
                                    c.rejected
                                )?;
                            }
                            total += c;
                            state.rejected += c.rejected;
                            if report.nothing_usable() {
                                state
                                    .failed_sources
                                    .push(format!("{}: no row could be stored", file.display()));
                            } else if *after == AfterIngest::Move {
                                move_processed(&file, processed.as_deref())?;
                            }
                        }
                        Err(e) if exit_code(&e) == FailureKind::Locked.exit_code() => {
                            return Err(e)
                        }
                        Err(e) => {
                            // One unusable file does not stop the others; it stays for the operator.
                            tracing::error!(file = %file.display(), "ingest failed: {e:#}");
                            state
                                .failed_sources
                                .push(format!("{}: {e:#}", file.display()));
                        }
                    }
                    bar.inc(1);
                }
                bar.finish_and_clear();
            }
            SourceConfig::Http { .. } => {
                let config = &p.http[p.config.sources[..i]
                    .iter()
                    .filter(|s| matches!(s, SourceConfig::Http { .. }))
                    .count()];
                let mapping = config
                    .mapping
                    .as_deref()
                    .map(|m| Mapping::load(m, config.kind))
                    .transpose()?;
                let mut validator =
                    Validator::new(config.kind, &Redactor, pseudonyms, mapping.as_ref());
                if config.kind.text_column().is_some() {
                    validator = validator.with_engine(engine);
                }
                match crate::http_source::fetch(store, config, &validator) {
                    Ok(report) => {
                        writeln!(
                            out,
                            "{}: {} pages: read {}, new {}, updated {}, rejected {}",
                            report.source,
                            report.pages,
                            report.counts.read,
                            report.counts.inserted,
                            report.counts.updated,
                            report.counts.rejected
                        )?;
                        http_pages += report.pages;
                        total += &report.counts;
                        state.rejected += report.counts.rejected;
                    }
                    Err(e) if exit_code(&e) == FailureKind::Locked.exit_code() => return Err(e),
                    Err(e) => {
                        tracing::error!(source = %config.name, "fetch failed: {e:#}");
                        state.failed_sources.push(format!("{}: {e:#}", config.name));
                    }
                }
            }
        }
    }
    Ok(json!({
        "files": files_read,
        "files_skipped": files_skipped,
        "http_pages": http_pages,
        "read": total.read,
        "inserted": total.inserted,
        "updated": total.updated,
        "unchanged": total.unchanged,
        "rejected": total.rejected,
        "failed_sources": state.failed_sources.len(),
    }))
}

/// Scores text-bearing rows that were stored without scores.
fn score_step(store: &mut Store, engine: &Engine) -> Result<serde_json::Value> {
    let mut scored = 0u64;
    let scored_at = timefmt::now_text();
    for kind in [Kind::Hotline, Kind::Feedback] {
        let (table, key, text) = (
            kind.table(),
            kind.key_column(),
            kind.text_column().expect("text"),
        );
        let rows: Vec<(String, String)> = {
            let mut stmt = store.conn().prepare(&format!(
                "SELECT {key}, {text} FROM {table} WHERE scored_at IS NULL AND {text} IS NOT NULL"
            ))?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<Result<_, _>>()?
        };
        if rows.is_empty() {
            continue;
        }
        let tx = store.conn_mut().transaction()?;
        {
            let mut update = tx.prepare(&format!(
                "UPDATE {table} SET polarity = ?, sentiment_score = ?, emotion = ?, risk = ?,
                        risk_terms = string_split(NULLIF(?, ''), '|'), topics = string_split(NULLIF(?, ''), '|'),
                        scored_at = CAST(? AS TIMESTAMP)
                 WHERE {key} = ?"
            ))?;
            for (id, t) in &rows {
                let mut values = crate::ingest::engine_values(engine, Some(t), &scored_at);
                values.push(duckdb::types::Value::Text(id.clone()));
                update.execute(duckdb::params_from_iter(values))?;
                scored += 1;
            }
        }
        tx.commit()?;
    }
    Ok(json!({ "scored": scored }))
}

/// Lists feedback still unanswered `warn_after_hours` after receipt, so it can be answered
/// within 24 hours.
fn sla_step(
    p: &Pipeline,
    store: &Store,
    reference: NaiveDateTime,
    out: &mut dyn Write,
) -> Result<serde_json::Value> {
    let (warn, lookback) = p
        .config
        .sla
        .as_ref()
        .map_or((20, 7), |s| (s.warn_after_hours, s.lookback_days));
    let now = timefmt::store_text(reference);
    let mut stmt = store.conn().prepare(
        "SELECT msg_id, channel, coalesce(handler, '未注明'), strftime(received_at, '%Y-%m-%d %H:%M'),
                CAST(epoch(CAST(?1 AS TIMESTAMP) - received_at) // 3600 AS BIGINT) AS hours
         FROM feedback_messages
         WHERE replied_at IS NULL
           AND received_at <= CAST(?1 AS TIMESTAMP) - to_hours(CAST(?2 AS BIGINT))
           AND received_at >= CAST(?1 AS TIMESTAMP) - to_days(CAST(?3 AS BIGINT))
         ORDER BY received_at, msg_id",
    )?;
    let rows: Vec<(String, String, String, String, i64)> = stmt
        .query_map(duckdb::params![now, warn as i64, lookback as i64], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })?
        .collect::<Result<_, _>>()?;
    let overdue = rows.iter().filter(|r| r.4 >= 24).count();
    let due_soon = rows.len() - overdue;
    writeln!(
        out,
        "reply watch (as of {now}): {due_soon} message(s) unanswered for {warn}–24 hours, {overdue} past 24 hours"
    )?;
    for (id, channel, handler, received, hours) in rows.iter().take(200) {
        let state = if *hours >= 24 {
            format!("overdue by {} h", hours - 24)
        } else {
            format!("due in {} h", 24 - hours)
        };
        writeln!(
            out,
            "  {id}\t{channel}\t{handler}\treceived {received}\t{state}"
        )?;
    }
    if rows.len() > 200 {
        writeln!(out, "  … and {} more", rows.len() - 200)?;
    }
    Ok(json!({ "due_soon": due_soon, "overdue": overdue }))
}
