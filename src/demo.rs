//! `xinqing demo`: a month of synthetic data written, ingested and summarised, so that a new
//! user sees the pipeline work end to end on a machine with nothing but the binary.

use crate::engine::Engine;
use crate::ingest::{ingest_file, FileOptions, MergeCounts, Validator};
use crate::redact::{ensure_key_file, Pseudonymizer, Redactor};
use crate::schema::Kind;
use crate::store::Store;
use crate::synth::{self, KindsToWrite, SynthOptions};
use anyhow::{Context, Result};
use chrono::NaiveDate;
use std::io::Write;
use std::path::Path;

pub const DAYS: u32 = 30;
pub const PER_DAY: u32 = 200;
pub const SEED: u64 = 20200201;

pub fn run(dir: &Path, db: &Path, out: &mut dyn Write) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    // The demo's own key, readable only by its owner, unless the environment provides one.
    let pseudonyms = match Pseudonymizer::from_env() {
        Ok(p) => p,
        Err(_) => {
            let key_path = dir.join("pseudonym.key");
            ensure_key_file(&key_path)
                .with_context(|| format!("cannot create the key file {}", key_path.display()))?;
            Pseudonymizer::from_file(&key_path).map_err(anyhow::Error::msg)?
        }
    };
    let data = dir.join("data");
    let start = NaiveDate::from_ymd_opt(2020, 2, 1).expect("valid date");
    let summary = synth::generate(&SynthOptions {
        days: DAYS,
        per_day: PER_DAY,
        seed: SEED,
        start,
        out: data.clone(),
        kinds: KindsToWrite::default(),
    })?;
    writeln!(
        out,
        "synthetic month {start} – {}: {} calls, {} feedback rows, {} screening rows in {}",
        start + chrono::Duration::days(DAYS as i64 - 1),
        summary.hotline_rows,
        summary.feedback_rows,
        summary.screening_rows,
        data.display()
    )?;

    let engine = Engine::load(None)?;
    let mut store = Store::open(db)?;
    for (kind, files) in [
        (Kind::Hotline, &summary.hotline_files),
        (Kind::Feedback, &summary.feedback_files),
        (Kind::Screening, &summary.screening_files),
    ] {
        let validator =
            Validator::new(kind, &Redactor, Some(&pseudonyms), None).with_engine(&engine);
        let mut total = MergeCounts::default();
        let mut skipped = 0;
        for file in files {
            let report = ingest_file(&mut store, &validator, file, &FileOptions::default())?;
            if report.already_ingested_at.is_some() {
                skipped += 1;
            }
            total += &report.counts;
        }
        writeln!(
            out,
            "ingested {kind:<9} {:>3} files: read {}, new {}, updated {}, unchanged {}, rejected {}{}",
            files.len(),
            total.read,
            total.inserted,
            total.updated,
            total.unchanged,
            total.rejected,
            if skipped > 0 {
                format!(" ({skipped} already ingested, skipped)")
            } else {
                String::new()
            }
        )?;
    }

    writeln!(out, "\nstore {}:", db.display())?;
    for (table, n) in store.table_counts()? {
        writeln!(out, "  {table:<22} {n:>8} rows")?;
    }
    let conn = store.conn();
    let figures: [(&str, &str); 8] = [
        (
            "calls answered",
            "SELECT printf('%d of %d (%.1f%%)', count(*) FILTER (WHERE status = 'answered'), count(*),
                    100.0 * count(*) FILTER (WHERE status = 'answered') / count(*)) FROM hotline_calls",
        ),
        (
            "high-risk calls",
            "SELECT CAST(count(*) AS VARCHAR) FROM hotline_calls WHERE risk_level IN ('high', 'imminent')",
        ),
        (
            "feedback replied ≤ 24 h",
            "SELECT printf('%.1f%%', 100.0 * count(*) FILTER (WHERE replied_at <= received_at + INTERVAL 24 HOUR) / count(*))
             FROM feedback_messages",
        ),
        (
            "feedback by channel",
            "SELECT string_agg(channel || ' ' || n, ', ' ORDER BY n DESC)
             FROM (SELECT channel, count(*) AS n FROM feedback_messages GROUP BY channel)",
        ),
        (
            "personal data redacted",
            "SELECT CAST(count(*) AS VARCHAR) || ' texts carry a placeholder such as 〔手机号〕'
             FROM (SELECT notes AS t FROM hotline_calls UNION ALL SELECT text FROM feedback_messages)
             WHERE t LIKE '%〔%〕%'",
        ),
        (
            "feedback polarity",
            "SELECT string_agg(polarity || ' ' || n, ', ' ORDER BY n DESC)
             FROM (SELECT polarity, count(*) AS n FROM feedback_messages GROUP BY polarity)",
        ),
        (
            "crisis language (scored)",
            "SELECT string_agg(risk || ' ' || n, ', ' ORDER BY n DESC)
             FROM (SELECT risk, count(*) AS n FROM (SELECT risk FROM feedback_messages UNION ALL
                   SELECT risk FROM hotline_calls) WHERE risk <> 'none' GROUP BY risk)",
        ),
        (
            "screening, GAD-7 positive",
            "SELECT printf('%.1f%% of %d screened', 100.0 * sum(positive) / sum(screened), sum(screened))
             FROM screening_aggregates WHERE instrument = 'GAD-7'",
        ),
    ];
    writeln!(out)?;
    for (label, sql) in figures {
        let value: Option<String> = conn.query_row(sql, [], |r| r.get(0))?;
        writeln!(out, "  {label:<26} {}", value.unwrap_or_else(|| "—".into()))?;
    }
    writeln!(
        out,
        "\nlook further with: xinqing query --db {} \"SELECT * FROM feedback_messages LIMIT 5\"",
        db.display()
    )?;

    let last_day = start + chrono::Duration::days(DAYS as i64 - 1);
    let bulletin_dir = dir.join("reports").join(last_day.to_string());
    let (_, written) = crate::report::bulletin(
        store.conn(),
        &crate::report::BulletinOptions {
            date: last_day,
            out: Some(&bulletin_dir),
            templates: None,
            dictionaries: None,
        },
    )?;
    writeln!(
        out,
        "\nbulletin for {last_day} ({} files): {}",
        written.files.len(),
        written.dir.join("bulletin.html").display()
    )?;
    Ok(())
}
