//! `xinqing schedule DIR`: a long-running scheduler for the pipelines in DIR.
//!
//! Runs happen one at a time (they share the store's lock), so a pipeline never runs twice at
//! once; a pipeline that falls due while another runs waits its turn. After downtime each
//! pipeline makes up at most `catch_up` missed runs, the latest ones, each standing for its
//! scheduled time (a daily bulletin missed on Monday still reports on Sunday). SIGTERM or
//! SIGINT lets the current file's transaction finish, records the run as interrupted if it
//! had more to do, and exits 0.

use super::config::Pipeline;
use super::run::{self, RunOptions};
use crate::error::{Failure, FailureKind};
use crate::store::Store;
use anyhow::{Context, Result};
use chrono::{DateTime, FixedOffset, NaiveDateTime, Utc};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

pub struct ScheduleOptions {
    pub db: Option<PathBuf>,
}

/// Every `*.toml` pipeline in `dir`, all validated before any runs.
pub fn load_dir(dir: &Path) -> Result<Vec<Pipeline>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| {
            Failure::new(
                FailureKind::Config,
                format!("{}: cannot read: {e}", dir.display()),
            )
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml") && p.is_file())
        .collect();
    files.sort();
    let pipelines = files
        .iter()
        .map(|f| Pipeline::load(f))
        .collect::<Result<Vec<_>>>()?;
    Ok(pipelines)
}

fn now_in(offset: FixedOffset) -> DateTime<FixedOffset> {
    Utc::now().with_timezone(&offset)
}

/// The scheduled times a pipeline missed since its last run, latest `limit` of them.
fn missed(
    p: &Pipeline,
    last: Option<NaiveDateTime>,
    now: DateTime<FixedOffset>,
) -> Vec<DateTime<FixedOffset>> {
    let (Some(cron), Some(last)) = (&p.schedule, last) else {
        return Vec::new();
    };
    let Some(last) = last.and_local_timezone(p.offset).single() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for t in cron.iter_after(last) {
        if t > now || out.len() > 10_000 {
            break;
        }
        out.push(t);
    }
    let keep = p.config.catch_up as usize;
    out.split_off(out.len().saturating_sub(keep))
}

/// When each pipeline last ran (its scheduled time, else its start), from the store if it exists.
fn last_runs(db: &Path, pipelines: &[Pipeline]) -> Vec<Option<NaiveDateTime>> {
    if !db.exists() {
        return vec![None; pipelines.len()];
    }
    let Ok(store) = Store::open_read_only(db) else {
        return vec![None; pipelines.len()];
    };
    pipelines
        .iter()
        .map(|p| {
            store
                .conn()
                .query_row(
                    "SELECT CAST(max(coalesce(scheduled_for, started_at)) AS VARCHAR) FROM runs WHERE pipeline = ?",
                    [&p.config.name],
                    |r| r.get::<_, Option<String>>(0),
                )
                .ok()
                .flatten()
                .and_then(|s| crate::timefmt::parse_datetime(&s).ok())
        })
        .collect()
}

pub fn schedule(dir: &Path, opts: &ScheduleOptions, out: &mut (dyn Write + Send)) -> Result<u8> {
    let pipelines: Vec<Pipeline> = load_dir(dir)?
        .into_iter()
        .filter(|p| {
            if p.schedule.is_none() {
                tracing::info!(pipeline = %p.config.name, "no schedule; skipped");
            }
            p.schedule.is_some()
        })
        .collect();
    if pipelines.is_empty() {
        return Err(Failure::new(
            FailureKind::Config,
            format!("{}: no pipeline with a schedule", dir.display()),
        )
        .into());
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the scheduler")?;
    runtime.block_on(schedule_loop(pipelines, opts, out))
}

async fn schedule_loop(
    pipelines: Vec<Pipeline>,
    opts: &ScheduleOptions,
    out: &mut (dyn Write + Send),
) -> Result<u8> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    let cancel = Arc::new(AtomicBool::new(false));
    let pipelines: Vec<Arc<Pipeline>> = pipelines.into_iter().map(Arc::new).collect();

    // Catch-up first, per store.
    let mut queue: Vec<(usize, DateTime<FixedOffset>)> = Vec::new();
    for (i, p) in pipelines.iter().enumerate() {
        let db = run::store_path(
            p,
            &RunOptions {
                db: opts.db.clone(),
                ..Default::default()
            },
        );
        let last = last_runs(&db, std::slice::from_ref(&**p))[0];
        for t in missed(p, last, now_in(p.offset)) {
            writeln!(out, "{}: catching up the run due at {t}", p.config.name)?;
            queue.push((i, t));
        }
    }
    queue.sort_by_key(|(_, t)| *t);
    writeln!(
        out,
        "scheduling {} pipeline(s): {}",
        pipelines.len(),
        pipelines
            .iter()
            .map(|p| format!(
                "{} ({})",
                p.config.name,
                p.config.schedule.as_deref().unwrap_or("")
            ))
            .collect::<Vec<_>>()
            .join(", ")
    )?;
    out.flush()?;

    let mut next: Vec<Option<DateTime<FixedOffset>>> = pipelines
        .iter()
        .map(|p| {
            p.schedule
                .as_ref()
                .and_then(|c| c.find_next_occurrence(&now_in(p.offset), false).ok())
        })
        .collect();
    loop {
        // Run whatever is due, one at a time.
        while let Some((i, due)) = (!queue.is_empty()).then(|| queue.remove(0)) {
            let p = pipelines[i].clone();
            let run_opts = RunOptions {
                scheduled_for: Some(due.naive_local()),
                db: opts.db.clone(),
                cancel: Some(cancel.clone()),
                date: None,
            };
            writeln!(out, "{}: run due at {due} started", p.config.name)?;
            out.flush()?;
            let mut task = tokio::task::spawn_blocking(move || {
                let mut buffer = Vec::new();
                let outcome = run::run(&p, &run_opts, &mut buffer);
                (outcome, buffer)
            });
            let mut stopping = false;
            let (outcome, buffer) = loop {
                tokio::select! {
                    joined = &mut task => break joined.context("the run's thread panicked")?,
                    _ = term.recv(), if !stopping => { stopping = true; cancel.store(true, Ordering::SeqCst); }
                    _ = int.recv(), if !stopping => { stopping = true; cancel.store(true, Ordering::SeqCst); }
                }
            };
            out.write_all(&buffer)?;
            let name = &pipelines[i].config.name;
            match outcome {
                Ok(o) => writeln!(
                    out,
                    "{name}: run {} finished: {} (exit {})",
                    o.run_id, o.status, o.exit_code
                )?,
                // A failed run is recorded and reported; the scheduler carries on.
                Err(e) => writeln!(out, "{name}: run failed: {e:#}")?,
            }
            out.flush()?;
            if stopping || cancel.load(Ordering::SeqCst) {
                writeln!(out, "stopped on signal")?;
                return Ok(0);
            }
        }
        // Sleep until the earliest next run, or a signal.
        let Some((i, when)) = next
            .iter()
            .enumerate()
            .filter_map(|(i, t)| t.map(|t| (i, t)))
            .min_by_key(|(_, t)| *t)
        else {
            writeln!(out, "nothing left to schedule")?;
            return Ok(0);
        };
        let wait = (when.with_timezone(&Utc) - Utc::now())
            .to_std()
            .unwrap_or_default();
        tokio::select! {
            _ = tokio::time::sleep(wait) => {
                queue.push((i, when));
                let p = &pipelines[i];
                next[i] = p.schedule.as_ref().and_then(|c| c.find_next_occurrence(&when, false).ok());
            }
            _ = term.recv() => { writeln!(out, "stopped on signal")?; return Ok(0); }
            _ = int.recv() => { writeln!(out, "stopped on signal")?; return Ok(0); }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catch_up_makes_up_only_the_latest_missed_runs() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("daily.toml");
        std::fs::write(
            &file,
            "name = \"daily\"\nschedule = \"0 7 * * *\"\nsteps = [\"bulletin\"]\ncatch_up = 2\n",
        )
        .unwrap();
        let p = Pipeline::load(&file).unwrap();
        let at = |s: &str| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap();
        let now = at("2020-03-05 09:30").and_local_timezone(p.offset).unwrap();
        // Last ran on the 1st at 07:00: the 2nd to the 5th were missed; the last two are made up.
        let missed = missed(&p, Some(at("2020-03-01 07:00")), now);
        let days: Vec<String> = missed
            .iter()
            .map(|t| t.format("%m-%d %H:%M").to_string())
            .collect();
        assert_eq!(days, ["03-04 07:00", "03-05 07:00"]);
        // Never ran: nothing to make up; up to date: nothing either.
        assert!(super::missed(&p, None, now).is_empty());
        assert!(super::missed(&p, Some(at("2020-03-05 07:00")), now).is_empty());
    }
}
